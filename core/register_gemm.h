// normlab's own sgemm kernel, for the products where it beats OpenBLAS's: tiles of C in
// registers over OpenBLAS's own K blocks, so that the bits are the ones OpenBLAS gives.
//
//   C = (beta · C) + op(A) op(B)     (row-major, alpha = 1, beta 0 or 1)
//
// op(A) is (M, K): A itself (rows, stride lda) or Aᵀ with A (K, M) — a weight gradient's
// dyᵀ; op(B) is (K, N): B itself or Bᵀ with B (N, K) — a Linear forward's Wᵀ. Per K block, a
// tile of 8 rows × 32 columns of C stays in registers; only op(A)'s 8 or 16 rows of the block
// are copied side by side (and, for a transposed B, the block of op(B) as rows), where OpenBLAS
// packs both operands of every product into its own layout. Hot, one thread, on the products of
// lm_ln, the MLP and the RNN (scripts/register-gemm.cpp): weight gradients 1.05-1.23×, input
// gradients (A B) 1.06-1.32×, forward products (A Bᵀ) 1.03-1.06× as fast as cblas_sgemm.
//
// Same bits: each element is one sequential sum per K block, one multiply-add per k, and the
// blocks are added to C in order, the blocks split as OpenBLAS's single-threaded level-3
// driver splits K for its AVX-512 kernel sets (blocks of Q = 448 on SkylakeX, 320 on
// Cooperlake; between Q and 2Q left, two halves rounded up to 16). Checked against cblas_sgemm bit for bit, in every form, by
// tests/core/test_register_gemm.cpp wherever register_gemm_fits() says yes.
#pragma once
#include <cstdint>

namespace nl {

// Whether sgemm sends this row-major product here: alpha = 1, beta 0 or 1, not both operands
// transposed, M a multiple of 8, N a multiple of 16 and at least 64, K >= 32, M·N·K above
// OpenBLAS's small-matrix limit (10^6; below it OpenBLAS packs nothing); on Cooperlake with B
// transposed only from M = 256 rows on (op(B)'s N·K floats are rearranged on every call); on
// SkylakeX only the shapes where it was measured faster there (never B transposed; Aᵀ B with K
// in one block or C at most 128 x 128; A B with N <= 256); in a build for
// AVX-512 with fused multiply-adds (the native build here; the portable one keeps OpenBLAS); on
// an OpenBLAS whose kernel set is SkylakeX or Cooperlake (whose K blocks are known); and the
// kernel switched on.
bool register_gemm_fits(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        float beta);

// OpenBLAS's K block (GEMM_Q) for sgemm on the kernel set in use, or 0 where it is not known.
int64_t register_gemm_blas_q();

// The product itself, with sgemm's arguments; requires M % 8 == 0, N % 16 == 0, K >= 1,
// beta 0 or 1 and not both operands transposed (throws otherwise). With `rows` (beta must be
// 1), C starts as that row (N floats) in every row instead of as its contents: the same bits as
// writing the row into C first, without that pass (sgemm_onto_rows, core/blas.h).
void register_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                   const float* rows = nullptr);

// On by default; off sends every product to OpenBLAS (for comparisons; the same bits).
void set_register_gemm(bool on);
bool register_gemm_on();

// The switch set for a scope and restored after it (a benchmark's raw OpenBLAS calls).
class RegisterGemmScope {
 public:
  explicit RegisterGemmScope(bool on) : was_on_(register_gemm_on()) { set_register_gemm(on); }
  ~RegisterGemmScope() { set_register_gemm(was_on_); }
  RegisterGemmScope(const RegisterGemmScope&) = delete;
  RegisterGemmScope& operator=(const RegisterGemmScope&) = delete;

 private:
  bool was_on_;
};

}  // namespace nl
