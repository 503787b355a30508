// Out-of-place transposition of a row-major block: dst (cols x rows, row stride ld_dst) =
// srcᵀ (rows x cols, row stride ld_src). 8×8 tiles are transposed in registers (three rounds
// of two-vector shuffles, the classic unpack / shuffle / lane-swap pattern), so a tile costs
// eight loads, 24 shuffles and eight stores rather than 64 scalar moves; the edges that do not
// fill a tile go element by element. Portable vector extensions (core/simd.h): GCC lowers the
// shuffles to AVX, SSE or scalar code, whatever the build targets.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/simd.h"

namespace nl {

inline void transpose_into(const float* src, int64_t ld_src, int64_t rows, int64_t cols,
                           float* dst, int64_t ld_dst) {
  using V = simd::Vf8;
  auto load = [](const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  };
  auto store = [](float* p, const V& v) { std::memcpy(p, &v, sizeof v); };
  int64_t r0 = 0;
  for (; r0 + 8 <= rows; r0 += 8) {
    int64_t c0 = 0;
    for (; c0 + 8 <= cols; c0 += 8) {
      const float* s = src + r0 * ld_src + c0;
      const V a0 = load(s), a1 = load(s + ld_src), a2 = load(s + 2 * ld_src),
              a3 = load(s + 3 * ld_src), a4 = load(s + 4 * ld_src), a5 = load(s + 5 * ld_src),
              a6 = load(s + 6 * ld_src), a7 = load(s + 7 * ld_src);
      // Round 1: interleave row pairs (within each 4-lane half).
      const V t0 = __builtin_shufflevector(a0, a1, 0, 8, 1, 9, 4, 12, 5, 13);
      const V t1 = __builtin_shufflevector(a0, a1, 2, 10, 3, 11, 6, 14, 7, 15);
      const V t2 = __builtin_shufflevector(a2, a3, 0, 8, 1, 9, 4, 12, 5, 13);
      const V t3 = __builtin_shufflevector(a2, a3, 2, 10, 3, 11, 6, 14, 7, 15);
      const V t4 = __builtin_shufflevector(a4, a5, 0, 8, 1, 9, 4, 12, 5, 13);
      const V t5 = __builtin_shufflevector(a4, a5, 2, 10, 3, 11, 6, 14, 7, 15);
      const V t6 = __builtin_shufflevector(a6, a7, 0, 8, 1, 9, 4, 12, 5, 13);
      const V t7 = __builtin_shufflevector(a6, a7, 2, 10, 3, 11, 6, 14, 7, 15);
      // Round 2: pairs of pairs: each half now holds four rows of one column.
      const V u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
      const V u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
      const V u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
      const V u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
      const V u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
      const V u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
      const V u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
      const V u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
      // Round 3: join the halves of rows 0-3 and 4-7: column c0 + j, whole.
      float* d = dst + c0 * ld_dst + r0;
      store(d, __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11));
      store(d + ld_dst, __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11));
      store(d + 2 * ld_dst, __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11));
      store(d + 3 * ld_dst, __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11));
      store(d + 4 * ld_dst, __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15));
      store(d + 5 * ld_dst, __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15));
      store(d + 6 * ld_dst, __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15));
      store(d + 7 * ld_dst, __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15));
    }
    for (; c0 < cols; ++c0)
      for (int64_t r = r0; r < r0 + 8; ++r) dst[c0 * ld_dst + r] = src[r * ld_src + c0];
  }
  for (; r0 < rows; ++r0)
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r0] = src[r0 * ld_src + c];
}

}  // namespace nl
