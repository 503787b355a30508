// C (+)= Aᵀ B over a long K: the shape of a weight gradient (dW = dyᵀ x, summed over the
// batch's rows), in registers instead of OpenBLAS, with OpenBLAS's own K blocks so that the
// bits are the ones OpenBLAS gives.
//
//   C[i, j] = (beta · C[i, j]) + sum over k of A[k, i] · B[k, j]     (alpha = 1, beta 0 or 1)
//
// A is (K, M) row-major (row stride lda), B (K, N) (ldb), C (M, N) (ldc). OpenBLAS packs both
// operands of such a product, 2048 × (M + N) floats per 2·M·N·2048 flops for lm_ln's weight
// gradients, from operands the step wrote long before; here a tile of 8 rows × 32 columns of
// C stays in registers over each K block, B is read in place (one row of the tile's columns per
// k) and only A's 8 or 16 columns of the block are copied, side by side (core/tn_gemm.cpp).
//
// Same bits: each element is one sequential sum per K block, one multiply-add per k, blocks
// added to C in order, the blocks split as OpenBLAS's level-3 driver splits K for its AVX-512
// kernel sets (K blocks of 320; between 320 and 640 left, two halves rounded up to 16). Checked
// against cblas_sgemm bit for bit (tests/core/test_tn_gemm.cpp) where tn_gemm_fits() says yes.
#pragma once
#include <cstdint>

namespace nl {

// Whether sgemm sends this row-major product to tn_gemm: op(A) transposed, op(B) not,
// alpha = 1, beta 0 or 1, M a multiple of 8, N a multiple of 16 and at least 64, K >= 32,
// M·N·K above OpenBLAS's small-matrix limit (10^6; below it OpenBLAS packs nothing), on an
// OpenBLAS whose kernel set is SkylakeX or Cooperlake (whose K blocks are known), and the
// kernel switched on (set_tn_gemm_kernel).
bool tn_gemm_fits(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                  float beta);

// The product itself; requires M % 8 == 0, N % 16 == 0, K >= 1, beta 0 or 1 (throws otherwise).
void tn_gemm(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
             int64_t ldb, float beta, float* C, int64_t ldc);

// On by default; off sends every product to OpenBLAS (for comparisons; the same bits).
void set_tn_gemm_kernel(bool on);
bool tn_gemm_kernel_on();

}  // namespace nl
