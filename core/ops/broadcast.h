// Internal helpers for ops that broadcast: element strides of an operand inside the output's
// index space (0 along broadcast axes), and a loop over the output that tracks both offsets.
#pragma once
#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace nl::detail {

// Strides (in elements) of a contiguous tensor of shape `in`, aligned to the right of `out`,
// with 0 where `in` is broadcast (missing axis or extent 1 against a larger extent).
inline std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  int64_t acc = 1;
  for (size_t k = 0; k < in.size(); ++k) {
    const size_t i = in.size() - 1 - k;
    const size_t o = out.size() - 1 - k;
    st[o] = in[i] == 1 && out[o] != 1 ? 0 : acc;
    acc *= in[i];
  }
  return st;
}

// Calls fn(out_index, a_offset, b_offset, n, a_step, b_step) for each run of the output's
// last axis; a run covers `n` consecutive outputs.
template <class Fn>
void for_each_run(const Shape& out, const std::vector<int64_t>& sa,
                  const std::vector<int64_t>& sb, Fn&& fn) {
  const int r = static_cast<int>(out.size());
  if (r == 0) {
    fn(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1}, int64_t{0}, int64_t{0});
    return;
  }
  const int64_t inner = out[r - 1];
  const int64_t runs = inner == 0 ? 0 : shape_numel(out) / inner;
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t run = 0; run < runs; ++run) {
    fn(run * inner, oa, ob, inner, sa[r - 1], sb[r - 1]);
    for (int d = r - 2; d >= 0; --d) {  // odometer increment over the outer axes
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

}  // namespace nl::detail
