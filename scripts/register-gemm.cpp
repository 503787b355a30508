// The products of lm_ln, the MLP and the RNN through OpenBLAS and through normlab's register
// kernel (core/register_gemm.h), alternated repetition by repetition with hot caches, and
// whether the two give the same bits. Forms as sgemm names them: TN = a weight gradient (Aᵀ B),
// NN = an input gradient (A B), NT = a Linear forward (A Bᵀ, onto a bias: beta = 1). Build and
// run (one thread, as the framework calls it):
//   g++ -O3 -march=native -std=c++20 -I. scripts/register-gemm.cpp build/libnormlab.a -lopenblas -lz -lpthread -o /tmp/register-gemm
//   OPENBLAS_NUM_THREADS=1 /tmp/register-gemm
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "core/register_gemm.h"

namespace {
double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Product { bool ta, tb; long M, N, K; };
}  // namespace

int main() {
  const Product products[] = {
      // lm_ln (2048 tokens, d 128, ff 512, 3·d = 384, vocabulary 64)
      {true, false, 384, 128, 2048}, {true, false, 128, 128, 2048}, {true, false, 512, 128, 2048},
      {true, false, 128, 512, 2048}, {true, false, 64, 128, 2048},
      {false, false, 2048, 128, 512}, {false, false, 2048, 512, 128}, {false, false, 2048, 128, 384},
      {false, false, 2048, 128, 128}, {false, false, 2048, 128, 64},
      {false, true, 2048, 128, 512}, {false, true, 2048, 512, 128}, {false, true, 2048, 384, 128},
      {false, true, 2048, 128, 128}, {false, true, 2048, 64, 128},
      // the MLP (batch 64, 784 → 256 → 256) and the RNN (batch 32, hidden 256)
      {true, false, 256, 784, 64}, {true, false, 256, 256, 64}, {false, false, 64, 256, 256},
      {true, false, 256, 256, 32}, {false, false, 32, 256, 256}};
  std::mt19937 gen(1);
  std::normal_distribution<float> dist;
  std::printf("%-4s %-16s %12s %12s %9s %5s\n", "form", "M x N x K", "openblas ms", "registers ms",
              "speed-up", "bits");
  for (const Product& p : products) {
    const long M = p.M, N = p.N, K = p.K;
    const long lda = p.ta ? M : K, ldb = p.tb ? K : N;
    const float beta = p.tb ? 1.0f : 0.0f;  // a Linear forward adds onto its bias rows
    std::vector<float> A(K * M), B(K * N), c0(M * N), c_blas(M * N), c_ours(M * N);
    for (float& v : A) v = dist(gen);
    for (float& v : B) v = dist(gen);
    for (float& v : c0) v = dist(gen);
    const int reps = std::max(1L, static_cast<long>(2e8 / (2.0 * M * N * K)));
    double best_blas = 1e9, best_ours = 1e9;
    for (int r = 0; r < 15; ++r) {
      // beta = 1 products start from c0 each time; the copy is timed on both sides alike.
      const double t0 = seconds();
      for (int i = 0; i < reps; ++i) {
        if (beta == 1.0f) std::memcpy(c_blas.data(), c0.data(), sizeof(float) * M * N);
        cblas_sgemm(CblasRowMajor, p.ta ? CblasTrans : CblasNoTrans, p.tb ? CblasTrans : CblasNoTrans,
                    M, N, K, 1.0f, A.data(), lda, B.data(), ldb, beta, c_blas.data(), N);
      }
      const double t1 = seconds();
      for (int i = 0; i < reps; ++i) {
        if (beta == 1.0f) std::memcpy(c_ours.data(), c0.data(), sizeof(float) * M * N);
        nl::register_gemm(p.ta, p.tb, M, N, K, A.data(), lda, B.data(), ldb, beta, c_ours.data(), N);
      }
      const double t2 = seconds();
      best_blas = std::min(best_blas, (t1 - t0) / reps);
      best_ours = std::min(best_ours, (t2 - t1) / reps);
    }
    char name[32];
    std::snprintf(name, sizeof name, "%ldx%ldx%ld", M, N, K);
    std::printf("%-4s %-16s %12.3f %12.3f %9.3f %5s\n", p.ta ? "TN" : p.tb ? "NT" : "NN", name,
                best_blas * 1e3, best_ours * 1e3, best_blas / best_ours,
                std::memcmp(c_blas.data(), c_ours.data(), sizeof(float) * M * N) ? "DIFF" : "same");
  }
}
