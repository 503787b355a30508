// Weight-gradient products (C = Aᵀ B, K = 2048 rows) through OpenBLAS and through normlab's
// register kernel (core/tn_gemm.h), alternated repetition by repetition with hot caches, and
// whether the two give the same bits. Build and run (one thread, as the framework calls it):
//   g++ -O3 -march=native -std=c++20 -I. scripts/tn-gemm.cpp build/libnormlab.a -lopenblas -lz -lpthread -o /tmp/tn-gemm
//   OPENBLAS_NUM_THREADS=1 /tmp/tn-gemm
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/tn_gemm.h"

namespace {
double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

int main() {
  // lm_ln's weight gradients (M = out, N = in): attention in and out projections, FF1, FF2,
  // the LM head; then the MLP's (K = batch 64) and the RNN's (K = batch 32).
  const long shapes[][3] = {{384, 128, 2048}, {128, 128, 2048}, {512, 128, 2048},
                            {128, 512, 2048}, {64, 128, 2048},  {256, 784, 64},
                            {256, 256, 64},   {256, 256, 32}};
  std::mt19937 gen(1);
  std::normal_distribution<float> dist;
  std::printf("%-16s %12s %12s %9s %5s\n", "M x N x K", "openblas ms", "registers ms", "speed-up",
              "bits");
  for (const auto& s : shapes) {
    const long M = s[0], N = s[1], K = s[2];
    std::vector<float> A(K * M), B(K * N), c_blas(M * N), c_ours(M * N);
    for (float& v : A) v = dist(gen);
    for (float& v : B) v = dist(gen);
    const int reps = std::max(1L, static_cast<long>(2e8 / (2.0 * M * N * K)));
    double best_blas = 1e9, best_ours = 1e9;
    for (int r = 0; r < 15; ++r) {
      const double t0 = seconds();
      for (int i = 0; i < reps; ++i)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A.data(), M,
                    B.data(), N, 0.0f, c_blas.data(), N);
      const double t1 = seconds();
      for (int i = 0; i < reps; ++i)
        nl::tn_gemm(M, N, K, A.data(), M, B.data(), N, 0.0f, c_ours.data(), N);
      const double t2 = seconds();
      best_blas = std::min(best_blas, (t1 - t0) / reps);
      best_ours = std::min(best_ours, (t2 - t1) / reps);
    }
    char name[32];
    std::snprintf(name, sizeof name, "%ldx%ldx%ld", M, N, K);
    std::printf("%-16s %12.3f %12.3f %9.3f %5s\n", name, best_blas * 1e3, best_ours * 1e3,
                best_blas / best_ours,
                std::memcmp(c_blas.data(), c_ours.data(), sizeof(float) * M * N) ? "DIFF" : "same");
  }
}
