// One attention head's products in registers (see head_products.h). A tile of R rows × NB
// 16-float vectors of C stays in registers for the whole k loop: per k, NB loads of B's row,
// R broadcasts of A(i, k) and R × NB multiply-adds. R × NB is 16 accumulators where the row
// block allows (NB = 4: 4 rows, NB = 2: 8 rows), enough independent sums to cover the
// multiply-add latency, and with the NB vectors of B and one broadcast, 21 of the 32 AVX-512
// registers. No packing: a head's operands (a 64×32 slice of the (B,T,3d) projection) are
// read in place, each B row once per tile.
#include "layers/kernels/head_products.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/simd.h"

namespace nl::kernels {
namespace {

using simd::Vf16;
constexpr int64_t kBlock = 16;  // the triangle's row granularity for columns, and the vector width
constexpr int64_t kDepthBlock = 8;  // its row granularity for depth (the taller tiles' height)

// C's R × NB tile at c (row stride ldc) = acc, or += acc.
template <int R, int NB>
void store_tile(Vf16 (&acc)[R][NB], float* c, int64_t ldc, bool accumulate) {
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
    for (int j = 0; j < NB; ++j) {
      float* p = cr + j * simd::kWidth;
      simd::store(p, accumulate ? simd::load(p) + acc[r][j] : acc[r][j]);
    }
  }
}

// C rows [i, i + R), NB vectors at b's and c's first column (+)= the sum over k in [k0, k1) of
// A(i + r, k) B[k]. A stored by rows: one pointer per row, stepped by 1; transposed: one
// pointer stepped by lda, the R rows' elements side by side.
template <int R, int NB>
void tile(const HeadOperand& a, int64_t i, const float* b, int64_t ldb, float* c, int64_t ldc,
          int64_t k0, int64_t k1, bool accumulate) {
  Vf16 acc[R][NB] = {};
  if (a.transposed) {
    const float* ak = a.data + k0 * a.ld + i;
    const float* bk = b + k0 * ldb;
    for (int64_t k = k0; k < k1; ++k, ak += a.ld, bk += ldb) {
      Vf16 bv[NB];
      for (int j = 0; j < NB; ++j) bv[j] = simd::load(bk + j * simd::kWidth);
      for (int r = 0; r < R; ++r) {
        const Vf16 av = simd::splat(ak[r]);
        for (int j = 0; j < NB; ++j) acc[r][j] += av * bv[j];
      }
    }
  } else {
    // Two row pointers (rows 0-3 and 4-7 of the tile) stepped by 1 and the row offsets
    // 0, ld, 2 ld, 3 ld: four registers for the tile's rows where one pointer per row spilled.
    const int64_t l1 = a.ld, l2 = 2 * a.ld, l3 = 3 * a.ld;
    const float* a0 = a.data + i * a.ld + k0;
    const float* a4 = R > 4 ? a0 + 4 * a.ld : a0;  // (a 4-row tile has no row 4 to point at)
    const float* bk = b + k0 * ldb;
    for (int64_t k = k0; k < k1; ++k, bk += ldb, ++a0, ++a4) {
      Vf16 bv[NB];
      for (int j = 0; j < NB; ++j) bv[j] = simd::load(bk + j * simd::kWidth);
      for (int r = 0; r < R; ++r) {
        const float* base = r < 4 ? a0 : a4;
        const int q = r & 3;
        const Vf16 av = simd::splat(base[q == 0 ? 0 : q == 1 ? l1 : q == 2 ? l2 : l3]);
        for (int j = 0; j < NB; ++j) acc[r][j] += av * bv[j];
      }
    }
  }
  store_tile<R, NB>(acc, c + i * ldc, ldc, accumulate);
}

// Rows [i0, i0 + n) of C (n = 8 or 16), columns [c0, c0 + 16 * NB), in n / R tiles of R rows.
template <int R, int NB>
void row_block(const HeadOperand& a, int64_t i0, int64_t n, const float* b, int64_t ldb,
               float* c, int64_t ldc, int64_t c0, int64_t k0, int64_t k1, bool accumulate) {
  for (int64_t i = i0; i < i0 + n; i += R)
    tile<R, NB>(a, i, b + c0, ldb, c + c0, ldc, k0, k1, accumulate);
}

void row_block_columns(const HeadOperand& a, int64_t i0, int64_t n, const float* b,
                       int64_t ldb, float* c, int64_t ldc, int64_t cols, int64_t k0, int64_t k1,
                       bool accumulate) {
  int64_t c0 = 0;
  for (; c0 + 4 * kBlock <= cols; c0 += 4 * kBlock)
    row_block<4, 4>(a, i0, n, b, ldb, c, ldc, c0, k0, k1, accumulate);
  switch ((cols - c0) / kBlock) {
    case 3: row_block<4, 3>(a, i0, n, b, ldb, c, ldc, c0, k0, k1, accumulate); break;
    case 2: row_block<8, 2>(a, i0, n, b, ldb, c, ldc, c0, k0, k1, accumulate); break;
    case 1: row_block<8, 1>(a, i0, n, b, ldb, c, ldc, c0, k0, k1, accumulate); break;
    default: break;
  }
}

}  // namespace

bool head_product_fits(int64_t rows, int64_t cols, int64_t depth) {
  return rows > 0 && cols > 0 && depth > 0 && rows % kBlock == 0 && cols % kBlock == 0 &&
         depth % kBlock == 0;
}

void head_product(int64_t rows, int64_t cols, int64_t depth, const HeadOperand& a,
                  const float* b, int64_t ldb, float* c, int64_t ldc, HeadRange range,
                  bool accumulate) {
  if (!head_product_fits(rows, cols, depth))
    throw ShapeError("head_product: rows " + std::to_string(rows) + ", cols " +
                     std::to_string(cols) + " and depth " + std::to_string(depth) +
                     " must all be positive multiples of 16");
  // Depth ranges follow 8-row blocks (the 8-row tiles of a head's dh = 32 products then skip
  // half a 16-row block's extra depth); column ranges follow the 16-float vectors.
  const bool depth_range = range == HeadRange::kDepthToRow || range == HeadRange::kDepthFromRow;
  const int64_t block_rows = depth_range ? kDepthBlock : kBlock;
  for (int64_t i0 = 0; i0 < rows; i0 += block_rows) {
    const int64_t row_end = i0 + block_rows;
    int64_t n = cols, k0 = 0, k1 = depth;
    if (range == HeadRange::kColumnsToRow) n = std::min(cols, row_end);
    if (range == HeadRange::kDepthToRow) k1 = std::min(depth, row_end);
    if (range == HeadRange::kDepthFromRow) k0 = std::min(depth, i0);
    row_block_columns(a, i0, block_rows, b, ldb, c, ldc, n, k0, k1, accumulate);
    if (n < cols && !accumulate)  // kColumnsToRow's rest (n and cols are multiples of 16)
      for (int64_t i = i0; i < row_end; ++i)
        for (int64_t j = n; j < cols; j += simd::kWidth) simd::store(c + i * ldc + j, Vf16{});
  }
}

}  // namespace nl::kernels
