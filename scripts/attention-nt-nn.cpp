// One head's S = Q Kᵀ (T×T×dh) out of a (B,T,3d) projection, four ways: the NT call straight
// on the strided K, the NN call on a Kᵀ that is already contiguous (the bound), K transposed by
// core/transpose.h then NN (what attention_heads does where OpenBLAS has small-matrix kernels,
// #57), and both operands transposed then TN. Every head of the batch in turn, 30 repetitions,
// median and minimum µs per head, two passes (the first warms up). Run it under the kernel set
// you want to see: OpenBLAS picks its own (AVX-512 sets use the small-matrix kernels) unless
// OPENBLAS_CORETYPE says otherwise.
//
//   g++ -O2 -march=native -std=c++20 -I. scripts/attention-nt-nn.cpp -lopenblas -o /tmp/attention-nt-nn
//   OPENBLAS_NUM_THREADS=1 /tmp/attention-nt-nn [B=32 T=64 heads=4 dh=32]
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 /tmp/attention-nt-nn
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "core/transpose.h"

int main(int argc, char** argv) {
  const long B = argc > 1 ? std::atol(argv[1]) : 32, T = argc > 2 ? std::atol(argv[2]) : 64;
  const long H = argc > 3 ? std::atol(argv[3]) : 4, dh = argc > 4 ? std::atol(argv[4]) : 32;
  const long D = H * dh, ld = 3 * D;
  std::vector<float> qkv(B * T * ld), kt(B * H * dh * T), qt(B * H * dh * T), S(B * H * T * T);
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (auto* v : {&qkv, &kt, &qt})
    for (float& x : *v) x = normal(gen);
  auto run = [&](const char* name, auto&& per_head) {
    std::vector<double> us;
    for (int rep = 0; rep < 30; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      for (long n = 0; n < B * H; ++n) per_head(n / H, n % H, n);
      us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
                   static_cast<double>(B * H));
    }
    std::sort(us.begin(), us.end());
    std::printf("%-36s median %6.2f us  min %6.2f us  %6.1f GFLOP/s\n", name, us[15], us[0],
                2.0 * T * T * dh / us[15] / 1e3);
  };
  auto q_of = [&](long b, long h) { return qkv.data() + b * T * ld + h * dh; };
  for (int pass = 0; pass < 2; ++pass) {
    std::printf("pass %d (B %ld, T %ld, heads %ld, dh %ld)\n", pass + 1, B, T, H, dh);
    run("NT on strided K (before #57)", [&](long b, long h, long n) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, dh, 1.f, q_of(b, h), ld,
                  q_of(b, h) + D, ld, 0.f, S.data() + n * T * T, T);
    });
    run("NN on a contiguous Kt (bound)", [&](long b, long h, long n) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, T, dh, 1.f, q_of(b, h), ld,
                  kt.data() + n * dh * T, T, 0.f, S.data() + n * T * T, T);
    });
    run("K transposed, then NN (#57)", [&](long b, long h, long n) {
      float* k = kt.data() + n * dh * T;
      nl::transpose_into(q_of(b, h) + D, ld, T, dh, k, T);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, T, dh, 1.f, q_of(b, h), ld, k, T,
                  0.f, S.data() + n * T * T, T);
    });
    run("Q and K transposed, then TN", [&](long b, long h, long n) {
      float* q = qt.data() + n * dh * T;
      float* k = kt.data() + n * dh * T;
      nl::transpose_into(q_of(b, h), ld, T, dh, q, T);
      nl::transpose_into(q_of(b, h) + D, ld, T, dh, k, T);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, T, dh, 1.f, q, T, k, T, 0.f,
                  S.data() + n * T * T, T);
    });
  }
}
