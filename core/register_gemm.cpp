// normlab's own sgemm kernel with OpenBLAS's K blocks (see register_gemm.h).
//
// Per K block: op(A)'s rows [i, i + 16) (or 8) copied side by side — for a weight gradient's
// Aᵀ 16 contiguous floats per k, for A itself an 8 × 8 register transposition — then for each
// 8-row half, tiles of 8 rows × 2 vectors of C (16 accumulators) over the block: per k, 2
// loads of op(B)'s row, 8 broadcasts from the copy, 16 multiply-adds. The copy (at most
// 2 × Q × 8 floats: 20 KiB at Q = 320, 28 KiB at 448) stays in L1 while the tiles walk op(B)'s
// block, which stays in L2 (Q rows × N floats: 160-224 KiB at N = 128). A transposed B's block
// is first transposed into a per-thread buffer (Q × N floats, kept for the thread's next calls).
#include "core/register_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/simd.h"
#include "core/transpose.h"

namespace nl {
namespace {

using simd::Vf16;

// OpenBLAS 0.3.21's single-threaded level-3 driver blocks K by GEMM_Q and, when less than
// 2·GEMM_Q is left, takes half of it rounded up to GEMM_UNROLL_M. GEMM_Q is a constant of the
// kernel set (its param.h, copied into the dispatch table at start-up), and it differs between
// the two AVX-512 sets: for sgemm 448 on SkylakeX (an Ice Lake Xeon) and 320 on Cooperlake (an
// AMD EPYC), GEMM_UNROLL_M = 16 on both (found by matching its results bit for bit over K from
// 32 to 3001 on each; the test keeps checking it). Its threaded driver splits K differently, so
// this kernel stands in only for single-threaded calls.
constexpr int64_t kSkylakeXQ = 448, kCooperlakeQ = 320;
constexpr int64_t kMaxBlasQ = std::max(kSkylakeXQ, kCooperlakeQ);  // the copy's size
constexpr int64_t kBlasUnrollM = 16;
constexpr int kRows = 8;  // a tile's rows of C

// The OpenBLAS kernel set in use, where it is one whose K blocks are known.
enum class BlasSet { kUnknown, kSkylakeX, kCooperlake };
BlasSet blas_set() {
  static const BlasSet set = [] {
    const std::string core = openblas_get_corename();
    if (core == "SkylakeX") return BlasSet::kSkylakeX;
    if (core == "Cooperlake") return BlasSet::kCooperlake;
    return BlasSet::kUnknown;
  }();
  return set;
}

// GEMM_Q of the OpenBLAS in use, or 0 where its kernel set's is not known.
int64_t blas_q_of_core() {
  switch (blas_set()) {
    case BlasSet::kSkylakeX: return kSkylakeXQ;
    case BlasSet::kCooperlake: return kCooperlakeQ;
    case BlasSet::kUnknown: break;
  }
  return 0;
}

int64_t k_block(int64_t left, int64_t q) {
  if (left >= 2 * q) return q;
  if (left > q) return (left / 2 + kBlasUnrollM - 1) / kBlasUnrollM * kBlasUnrollM;
  return left;
}

std::atomic<bool> g_on{true};

// OpenBLAS's kernel sums with fused multiply-adds; the kernel here gives its bits only where
// the build fuses them too, and is fast only where a 16-float vector is one register: a build
// for AVX-512 (the native one on these machines; the portable one keeps OpenBLAS for all).
#if defined(__AVX512F__) && defined(__FMA__)
constexpr bool kBuildFits = true;
#else
constexpr bool kBuildFits = false;
#endif

// C's 8 × NB-vector tile at c (+)= the sum over the block's kb rows of a[k][r] · b[k]; a is
// the copy (kRows floats per k), b the tile's first column in op(B)'s block (row stride ldb).
// With `init` (the tile's columns of a row), each row of the tile is set to init + the sum.
template <int NB>
void tile(const float* a, const float* b, int64_t ldb, int64_t kb, float* c, int64_t ldc,
          bool accumulate, const float* init) {
  Vf16 acc[kRows][NB] = {};
  for (int64_t k = 0; k < kb; ++k, a += kRows, b += ldb) {
    Vf16 bv[NB];
    for (int j = 0; j < NB; ++j) bv[j] = simd::load(b + j * simd::kWidth);
    for (int r = 0; r < kRows; ++r) {
      const Vf16 av = simd::splat(a[r]);
      for (int j = 0; j < NB; ++j) acc[r][j] += av * bv[j];
    }
  }
  for (int r = 0; r < kRows; ++r)
    for (int j = 0; j < NB; ++j) {
      float* p = c + r * ldc + j * simd::kWidth;
      // Not accumulating: 0 + acc, as OpenBLAS adds the sums onto a zeroed C (a sum of
      // underflowed negative products is -0, and 0 + -0 is +0).
      const Vf16 onto = init         ? simd::load(init + j * simd::kWidth)
                        : accumulate ? simd::load(p)
                                     : Vf16{};
      simd::store(p, onto + acc[r][j]);
    }
}

// Rows [i, i + 8) of C over one K block: 32-column tiles, then a 16-column one if N needs it.
void row_tiles(const float* a, const float* b, int64_t ldb, int64_t kb, int64_t N, float* c,
               int64_t ldc, bool accumulate, const float* init) {
  int64_t j = 0;
  for (; j + 2 * simd::kWidth <= N; j += 2 * simd::kWidth)
    tile<2>(a, b + j, ldb, kb, c + j, ldc, accumulate, init ? init + j : nullptr);
  if (j < N) tile<1>(a, b + j, ldb, kb, c + j, ldc, accumulate, init ? init + j : nullptr);
}

// op(A)(i + 8h + r, k0 + k) at copy[h · kb · 8 + k · 8 + r] for the block's kb columns and
// `halves` groups of 8 rows.
void copy_rows(bool trans_a, const float* A, int64_t lda, int64_t i, int halves, int64_t k0,
               int64_t kb, float* copy) {
  if (trans_a) {  // op(A)(i, k) = A[k · lda + i]: 8 or 16 contiguous floats per k
    float* second = copy + kb * kRows;
    for (int64_t k = 0; k < kb; ++k) {
      const float* row = A + (k0 + k) * lda + i;
      for (int r = 0; r < kRows; ++r) copy[k * kRows + r] = row[r];
      if (halves == 2)
        for (int r = 0; r < kRows; ++r) second[k * kRows + r] = row[kRows + r];
    }
    return;
  }
  for (int h = 0; h < halves; ++h)  // rows of A: 8 × kb transposed in registers
    transpose_into(A + (i + h * kRows) * lda + k0, lda, kRows, kb, copy + h * kb * kRows, kRows);
}

}  // namespace

bool register_gemm_fits(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        float beta) {
  if (alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || (trans_a && trans_b)) return false;
  if (M <= 0 || M % kRows != 0 || N % simd::kWidth != 0 || N < 64 || K < 32) return false;
  if (M * N * K <= 1000000) return false;  // OpenBLAS's small-matrix kernels pack nothing
  if (!kBuildFits || !g_on.load(std::memory_order_relaxed)) return false;
  const BlasSet set = blas_set();
  if (set == BlasSet::kUnknown) return false;
  if (set == BlasSet::kCooperlake) return !trans_b || M >= 256;  // op(B) rearranged per call
  // SkylakeX (an Ice Lake Xeon, two 512-bit FMA units a core): OpenBLAS's packed kernel keeps
  // both units busier on the larger products; the register tiles win only where little of C
  // and op(B) moves per block (scripts/register-gemm.cpp, thirty-third round, median of 6 runs:
  // weight gradients with K in one block or C at most 128 x 128 1.14-1.37x, input gradients
  // with N <= 256 1.05-1.46x; weight gradients of C 384 x 128 and up over K = 2048 0.78-0.80x,
  // 2048x512x128 input gradient 0.95x, forwards (A Bᵀ) 0.70-0.94x but for 1.03x at K = 512).
  if (trans_b) return false;
  if (trans_a) return K <= blas_q_of_core() || M * N <= 128 * 128;
  return N <= 256;
}

void register_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                   int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                   const float* rows) {
  if (M % kRows != 0 || N % simd::kWidth != 0 || M <= 0 || N <= 0 || K < 1 ||
      (beta != 0.0f && beta != 1.0f) || (trans_a && trans_b) || (rows && beta != 1.0f))
    throw ShapeError("register_gemm: M " + std::to_string(M) + " must be a multiple of 8, N " +
                     std::to_string(N) + " of 16, K " + std::to_string(K) +
                     " positive, beta 0 or 1 (1 with rows), and A and B not both transposed");
  // Elsewhere (register_gemm called directly on another kernel set) any block works.
  const int64_t q = blas_set() == BlasSet::kUnknown ? kCooperlakeQ : blas_q_of_core();
  alignas(64) float copy[2 * kMaxBlasQ * kRows];
  thread_local std::vector<float> b_rows;  // a transposed B's block, as rows of op(B)
  if (trans_b && b_rows.size() < static_cast<size_t>(q * N)) b_rows.resize(q * N);
  for (int64_t k0 = 0; k0 < K; k0 += k_block(K - k0, q)) {
    const int64_t kb = k_block(K - k0, q);
    const bool accumulate = beta == 1.0f || k0 > 0;
    const float* b = B + k0 * ldb;
    int64_t ldb_block = ldb;
    if (trans_b) {
      transpose_into(B + k0, ldb, N, kb, b_rows.data(), N);
      b = b_rows.data();
      ldb_block = N;
    }
    for (int64_t i = 0; i < M;) {
      const int halves = i + 2 * kRows <= M ? 2 : 1;
      copy_rows(trans_a, A, lda, i, halves, k0, kb, copy);
      for (int h = 0; h < halves; ++h, i += kRows)
        row_tiles(copy + h * kb * kRows, b, ldb_block, kb, N, C + i * ldc, ldc, accumulate,
                  k0 == 0 ? rows : nullptr);
    }
  }
}

int64_t register_gemm_blas_q() { return blas_q_of_core(); }

void set_register_gemm(bool on) { g_on.store(on, std::memory_order_relaxed); }
bool register_gemm_on() { return g_on.load(std::memory_order_relaxed); }

}  // namespace nl
