// The one place normlab calls BLAS: a row-major sgemm, C = alpha * op(A) op(B) + beta * C.
// Every matmul in the framework goes through here (OpenBLAS cblas_sgemm).
#pragma once
#include <cstdint>

namespace nl {

// OpenBLAS runs an sgemm of at most this many multiply-adds (M·N·K = 64³) on the calling
// thread whatever thread count it was given, so such products may run inside pool tasks.
constexpr int64_t kBlasSingleThreadMNK = int64_t{64} * 64 * 64;

// op(A): (M,K) (stored (K,M) when trans_a), op(B): (K,N) (stored (N,K) when trans_b), C: (M,N).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, const float* B, float beta, float* C);
// The same with explicit leading dimensions (row strides, in floats) of A, B and C, for
// matrices that are column blocks of wider ones (an attention head inside (B,T,3d)).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// sgemm for products too small for OpenBLAS's own threads (choose_blas_threads) yet large
// enough to share: with 2+ threads they are split over the pool's threads by rows or columns of
// C, one single-threaded call per part (split_gemm_parts, core/threading.h). Used for an RNN's
// recurrence (h·Uᵀ, d·U and dU += dᵀ·h at every time step: each core keeps its share of the
// weight in its own L2 from step to step) and a Linear layer's products (docs/performance.md,
// eleventh round: 1.06-1.13x on the MLP steps at 2 threads on top of sgemm_pair, once the pool's
// workers spin between jobs). The parts round differently from the whole product: results
// depend on the thread count (and are bit-identical run to run at a given one).
void sgemm_split(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, const float* B, float beta, float* C);

// One product's arguments (row-major, leading dimensions as in the first sgemm above).
struct GemmCall {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  float alpha = 1.0f;
  const float* A = nullptr;
  const float* B = nullptr;
  float beta = 0.0f;
  float* C = nullptr;
};

// sgemm and sgemm_split with the arguments of `g`.
void sgemm(const GemmCall& g);
void sgemm_split(const GemmCall& g);

// Two independent products (neither reads what the other writes): a layer's input gradient and
// its weight gradient. With 2+ threads, when each has from 1 M multiply-adds up to the size that
// OpenBLAS's own threads take (pair_gemms_on_pool, core/threading.h), they run at once, one
// single-threaded OpenBLAS call on each of two pool threads: the same calls one thread makes,
// so the same bits as one after the other. Otherwise they run one after the other, each as
// sgemm (or, with `split`, as sgemm_split) runs it.
void sgemm_pair(const GemmCall& first, const GemmCall& second, bool split = false);

// A naive triple loop with the same contract, double accumulation: the test reference only.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, const float* B, float beta, float* C);

}  // namespace nl
