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

// A naive triple loop with the same contract, double accumulation: the test reference only.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, const float* B, float beta, float* C);

}  // namespace nl
