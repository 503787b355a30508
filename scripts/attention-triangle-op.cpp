// The causal triangle in the real op: attention_heads forward + backward with
// set_causal_triangle_min_len(1) (the triangle, blocks of 64 query rows) and INT64_MAX (whole
// T×T products), alternated call by call in one process, the order swapped every pair (a
// process-level A/B of two builds was too noisy on this host: per-run ratios 0.56-1.12).
// Prints the median and minimum of each and the median and quartiles of the per-pair ratios.
// With "registers" last, the switch is set_attention_head_kernels instead: the heads'
// products in registers (T, dh multiples of 16, T <= 128) against OpenBLAS. (Heads that run in
// registers ignore the triangle switch: compare the 64-row triangle at T = 128 with dh not a
// multiple of 16, or after set_attention_head_kernels(false).)
//
//   g++ -O2 -std=c++20 -I. scripts/attention-triangle-op.cpp build/libnormlab.a -lopenblas -lz -lpthread -o /tmp/attention-triangle-op
//   /tmp/attention-triangle-op B T d heads threads [pairs=40] [registers]   e.g. 8 256 128 4 1
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/normlab.h"
#include "layers/attention.h"

using namespace nl;

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s B T d heads threads [pairs=40]\n", argv[0]);
    return 2;
  }
  const int B = std::atoi(argv[1]), T = std::atoi(argv[2]), d = std::atoi(argv[3]), H = std::atoi(argv[4]);
  set_num_threads(std::atoi(argv[5]));
  const int reps = argc > 6 ? std::atoi(argv[6]) : 40;
  const bool registers = argc > 7 && std::string(argv[7]) == "registers";
  const char* names = registers ? "registers/blas" : "triangle/whole";
  Rng rng(1);
  Tensor x = Tensor::uniform({B, T, 3 * d}, -1, 1, rng);
  Tensor w = Tensor::uniform({B, T, d}, -1, 1, rng);
  auto once = [&](int64_t min_len) {
    if (registers)
      set_attention_head_kernels(min_len == 1);  // on: in registers; off: OpenBLAS
    else
      set_causal_triangle_min_len(min_len);
    Tensor a = x.detach();
    a.requires_grad_(true);
    auto t0 = std::chrono::steady_clock::now();
    Tensor y = attention_heads(a, H, Tensor(), true);
    sum(mul(y, w)).backward();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<double> on, off, ratio;
  for (int r = 0; r < reps + 3; ++r) {
    double a, b;
    if (r % 2) { a = once(1); b = once(INT64_MAX); } else { b = once(INT64_MAX); a = once(1); }
    if (r >= 3) { on.push_back(a); off.push_back(b); ratio.push_back(a / b); }
  }
  for (auto* v : {&on, &off, &ratio}) std::sort(v->begin(), v->end());
  const size_t m = on.size() / 2, q = on.size() / 4;
  std::printf("B %d T %d dh %d threads %s: %s %.3f ms (min %.3f) / %.3f (min %.3f); median ratio %.3f, quartiles %.3f-%.3f\n",
              B, T, d / H, argv[5], names, on[m], on[0], off[m], off[0], ratio[m], ratio[q], ratio[3 * q]);
}
