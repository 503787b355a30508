// The attention softmax forward on one head's T×T scores, in place as attention_heads calls it:
// masked_softmax_forward (16 rows at a time on whole 16-lane blocks when T is a multiple of 16,
// #60) against masked_softmax_forward_by_rows (one row at a time, the path before #60 and the
// one other T take), alternated repetition by repetition over H heads' buffers; causal rows
// (keys up to the query's own position) and rows of all T keys. Prints the median µs per head
// and whether the two paths gave the same bits. H = 2 keeps the buffers in L2 (inside the step
// a head's scores come straight from its Q Kᵀ product); H = 256 sends them to L3.
//
//   g++ -O3 -march=native -std=c++20 -I. scripts/softmax-rows.cpp build/libnormlab.a \
//       -lopenblas -lz -lpthread -o /tmp/softmax-rows
//   NORMLAB_THREADS=1 /tmp/softmax-rows [T=64] [H=2] [reps=2000]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "layers/kernels/masked_softmax.h"

int main(int argc, char** argv) {
  const int64_t T = argc > 1 ? std::atol(argv[1]) : 64, H = argc > 2 ? std::atol(argv[2]) : 2;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 2000;
  std::vector<float> scores(H * T * T), a(scores.size()), b(scores.size());
  std::mt19937 gen(1);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (float& v : scores) v = normal(gen);
  const float scale = 0.17f;
  for (bool causal : {true, false}) {
    nl::kernels::SoftmaxMask mask;
    mask.causal = causal;
    auto run = [&](std::vector<float>& y, bool blocks) {
      std::memcpy(y.data(), scores.data(), sizeof(float) * y.size());  // untimed
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t h = 0; h < H; ++h) {
        float* p = y.data() + h * T * T;
        if (blocks)
          nl::kernels::masked_softmax_forward(p, p, 1, T, T, scale, mask);
        else
          nl::kernels::masked_softmax_forward_by_rows(p, p, 1, T, T, scale, mask);
      }
      const auto t1 = std::chrono::steady_clock::now();
      return std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(H);
    };
    std::vector<double> t_blocks, t_rows;
    for (int r = 0; r < reps; ++r) {
      if (r % 2) {
        t_blocks.push_back(run(a, true));
        t_rows.push_back(run(b, false));
      } else {
        t_rows.push_back(run(b, false));
        t_blocks.push_back(run(a, true));
      }
    }
    auto median = [](std::vector<double> t) {
      std::sort(t.begin(), t.end());
      return t[t.size() / 2];
    };
    const bool same = std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
    std::printf("T %ld, %ld heads, %s: 16-row blocks %.3f us/head, row by row %.3f (%.2fx); same bits: %s\n",
                static_cast<long>(T), static_cast<long>(H), causal ? "causal" : "all keys",
                median(t_blocks), median(t_rows), median(t_rows) / median(t_blocks),
                same ? "yes" : "NO");
  }
}
