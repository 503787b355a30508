// The one place normlab calls BLAS: a row-major sgemm, C = alpha * op(A) op(B) + beta * C.
// Every matmul in the framework goes through here (OpenBLAS cblas_sgemm), and from here the
// products where normlab's own kernel is faster go to it instead, with OpenBLAS's bits
// (register_gemm, core/register_gemm.h: Linear layers' and RNN steps' products on OpenBLAS's
// AVX-512 kernel sets). An attention head's small products run in registers elsewhere
// (layers/kernels/head_products.h).
#pragma once
#include <cstdint>

namespace nl {

// OpenBLAS runs an sgemm of at most this many multiply-adds (M·N·K = 64³) on the calling
// thread whatever thread count it was given, so such products may run inside pool tasks.
constexpr int64_t kBlasSingleThreadMNK = int64_t{64} * 64 * 64;

// op(A): (M,K) (stored (K,M) when trans_a), op(B): (K,N) (stored (N,K) when trans_b), C: (M,N).
// At 2+ threads a product of 1 M multiply-adds or more is split over normlab's pool by rows or
// columns of C, one single-threaded OpenBLAS call per part (split_gemm_parts,
// core/threading.h; inside a pool task it runs whole on the calling thread). The parts round
// differently from the whole product, so results depend on the thread count (and are
// bit-identical run to run at a given one). A product with at most 4 rows runs as one sgemv
// per row, unless OpenBLAS's small-matrix sgemm serves it (few_rows_as_gemv).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, const float* B, float beta, float* C);
// The same with explicit leading dimensions (row strides, in floats) of A, B and C, for
// matrices that are column blocks of wider ones (an attention head inside (B,T,3d)).
void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

// C = op(A) op(B) onto rows that all start as `row` (N floats: a Linear's bias), C (M, N)
// contiguous. The bits of filling C's rows with `row` and calling sgemm with alpha = 1,
// beta = 1, which is what it does unless register_gemm takes the product: there the row is added
// as the first K block's sums are stored, and C is not written twice.
void sgemm_onto_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                     const float* B, const float* row, float* C);

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

// sgemm with the arguments of `g`.
void sgemm(const GemmCall& g);

// Two independent products (neither reads what the other writes): a layer's input gradient and
// its weight gradient. With 2+ threads, when each has 1 M multiply-adds or more
// (pair_gemms_on_pool, core/threading.h), they run at once, one single-threaded OpenBLAS call
// on each of two pool threads: the bits of one thread, and neither product's operands packed
// twice, as splitting each would. Otherwise they run one after the other, each as sgemm runs it.
// A call with no C (a default GemmCall: a gradient nobody needs) is skipped.
void sgemm_pair(const GemmCall& first, const GemmCall& second);

// Whether the OpenBLAS in use runs a kernel set with small-matrix sgemm kernels (SkylakeX,
// Cooperlake, SapphireRapids: its AVX-512 sets), from openblas_get_corename(); fixed per
// process, so the choice below is too.
bool blas_has_small_sgemm();
// Whether an M x N x K product runs as one cblas_sgemv per row of C rather than one sgemm:
// at most 4 rows, K >= 32, op(B) of at most 2^18 floats, and not where the small-matrix
// sgemm kernels serve 2-4 rows better (core/blas.cpp says what was measured).
bool few_rows_as_gemv(int64_t M, int64_t N, int64_t K);

// A naive triple loop with the same contract, double accumulation: the test reference only.
void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, const float* B, float beta, float* C);

}  // namespace nl
