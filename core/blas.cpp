#include "core/blas.h"

#include <cblas.h>

#include <cstring>
#include <string>

#include "core/gemm_recorder.h"
#include "core/register_gemm.h"
#include "core/threading.h"

namespace nl {

bool blas_has_small_sgemm() {
  static const bool yes = [] {
    const std::string core = openblas_get_corename();
    return core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
  }();
  return yes;
}

// A product whose op(A) has at most 4 rows runs as one matrix-vector product per row (cblas_sgemv,
// still OpenBLAS): sgemm packs all of op(B) on every call, which for so few rows costs as much as
// the arithmetic. Measured on OpenBLAS's Haswell kernels (docs/performance-history.md, third
// round, step 9): 4x256x784 (the batch-4 MLP) 1.47x faster, 2x256x784 3.7x, 4x256x256
// 1.04-1.29x. Not for a short K, nor an op(B) past ~1 MB, which each row would reread from L3
// (4x1024x1024: 0.78x). Where OpenBLAS has small-matrix sgemm kernels, which it uses up to
// M·N·K = 10^6 and which pack nothing, 2-4 rows go to sgemm instead: there sgemv rows were
// 1.4-3.2x slower (4x256x256 25.6 against 8.5 µs; twenty-third round). One row stays on sgemv:
// there sgemm was only 1.02-1.05x faster with op(B) transposed and 0.67x without.
bool few_rows_as_gemv(int64_t M, int64_t N, int64_t K) {
  if (M > 4 || K < 32 || N * K > (int64_t{1} << 18)) return false;
  constexpr int64_t kSmallSgemmMaxMNK = 1000000;  // OpenBLAS 0.3.21's small-kernel limit
  return !(blas_has_small_sgemm() && M >= 2 && M * N * K <= kSmallSgemmMaxMNK);
}

namespace {

// C's M rows (row stride ldc) each set to `row` (N floats).
void fill_rows(float* C, int64_t M, int64_t N, int64_t ldc, const float* row) {
  for (int64_t i = 0; i < M; ++i) std::memcpy(C + i * ldc, row, sizeof(float) * N);
}

// One single-threaded product. `rows` (or nullptr): C starts as that row in every row (beta is
// then 1), written into C first unless register_gemm takes the product.
void gemm_call(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc, const float* rows) {
  // Where normlab's own kernel beats OpenBLAS's and OpenBLAS would run the product on one
  // thread (core/register_gemm.h): the same bits, without packing both operands.
  if (register_gemm_fits(trans_a, trans_b, M, N, K, alpha, beta) &&
      (inside_parallel_task() || !gemm_on_openblas_threads(M, N, K))) {
    register_gemm(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc, rows);
    return;
  }
  if (rows) fill_rows(C, M, N, ldc, rows);
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(M), static_cast<int>(N),
              static_cast<int>(K), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb),
              beta, C, static_cast<int>(ldc));
}

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
          const float* rows = nullptr) {
  GemmRecorder::note({trans_a, trans_b, M, N, K, lda, ldb, ldc, alpha, beta});
  if (M == 0 || N == 0) return;
  const bool gemv_rows = few_rows_as_gemv(M, N, K) && !inside_parallel_task();
  if (rows && (K == 0 || gemv_rows)) {  // C's rows first, then beta = 1 as usual
    fill_rows(C, M, N, ldc, rows);
    rows = nullptr;
  }
  if (K == 0) {  // BLAS may not touch C when K == 0: apply beta ourselves
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float& c = C[i * ldc + j];
        c = beta == 0.0f ? 0.0f : beta * c;
      }
    return;
  }
  choose_blas_threads(M, N, K);
  // Not inside a pool task: OpenBLAS threads an sgemv from 9216 elements on, with whatever
  // thread count it was last given, and the pool's threads are all busy there.
  if (gemv_rows) {
    // C[i,:] = alpha · op(B)ᵀ · op(A)[i,:] + beta · C[i,:]; op(B)ᵀ is B itself when trans_b.
    for (int64_t i = 0; i < M; ++i) {
      const float* a = trans_a ? A + i : A + i * lda;
      const int inc_a = trans_a ? static_cast<int>(lda) : 1;
      if (trans_b)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<int>(N), static_cast<int>(K), alpha, B,
                    static_cast<int>(ldb), a, inc_a, beta, C + i * ldc, 1);
      else
        cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(K), static_cast<int>(N), alpha, B,
                    static_cast<int>(ldb), a, inc_a, beta, C + i * ldc, 1);
    }
    return;
  }
  const int parts = split_gemm_parts(M, N, K);
  if (parts > 1) {
    // Rows (or columns) of C in `parts` blocks, multiples of 16 (whole micro-kernel tiles), one
    // single-threaded call each. The blocks depend only on (M, N, threads): deterministic, but
    // the rounding may differ from the unsplit call's (OpenBLAS picks kernels by block shape).
    const bool by_rows = M >= N;
    const int64_t len = by_rows ? M : N;
    auto edge = [&](int64_t p) { return p == parts ? len : (len * p / parts) / 16 * 16; };
    parallel_for(parts, 1, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t b = edge(p), e = edge(p + 1);
        if (by_rows)
          gemm_call(trans_a, trans_b, e - b, N, K, alpha, trans_a ? A + b : A + b * lda, lda, B,
                    ldb, beta, C + b * ldc, ldc, rows);
        else
          gemm_call(trans_a, trans_b, M, e - b, K, alpha, A, lda, trans_b ? B + b * ldb : B + b,
                    ldb, beta, C + b, ldc, rows ? rows + b : nullptr);
      }
    });
    return;
  }
  gemm_call(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, rows);
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, const float* B, float beta, float* C) {
  sgemm(trans_a, trans_b, M, N, K, alpha, A, trans_a ? M : K, B, trans_b ? K : N, beta, C, N);
}

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc) {
  gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_onto_rows(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                     const float* B, const float* row, float* C) {
  gemm(trans_a, trans_b, M, N, K, 1.0f, A, trans_a ? M : K, B, trans_b ? K : N, 1.0f, C, N, row);
}

void sgemm(const GemmCall& g) {
  sgemm(g.trans_a, g.trans_b, g.M, g.N, g.K, g.alpha, g.A, g.B, g.beta, g.C);
}

void sgemm_pair(const GemmCall& first, const GemmCall& second) {
  // sgemm runs whole inside a pool task (one call on that thread), and as sgemm outside one.
  auto run = [](const GemmCall& g) { sgemm(g); };
  if (!first.C || !second.C) {
    if (first.C) run(first);
    if (second.C) run(second);
    return;
  }
  // Not a product that runs as sgemv rows (few_rows_as_gemv): inside a pool task it would run
  // as an sgemm instead, which rounds differently.
  const bool at_once = !few_rows_as_gemv(first.M, first.N, first.K) &&
                       !few_rows_as_gemv(second.M, second.N, second.K) &&
                       pair_gemms_on_pool(first.M, first.N, first.K, second.M, second.N, second.K);
  if (!at_once) {
    run(first);
    run(second);
    return;
  }
  choose_blas_threads(first.M, first.N, first.K);  // one OpenBLAS thread (it takes neither)
  parallel_for(2, 1, [&](int64_t begin, int64_t end) {  // one call each, in a pool task
    for (int64_t i = begin; i < end; ++i) run(i == 0 ? first : second);
  });
}

void sgemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, const float* B, float beta, float* C) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const float a = trans_a ? A[k * M + i] : A[i * K + k];
        const float b = trans_b ? B[j * K + k] : B[k * N + j];
        acc += static_cast<double>(a) * b;
      }
      C[i * N + j] = static_cast<float>(alpha * acc + (beta == 0.0f ? 0.0 : beta * C[i * N + j]));
    }
}

}  // namespace nl
