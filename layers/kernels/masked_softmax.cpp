// Fused scale + mask + softmax over attention score rows; see masked_softmax.h.
#include "layers/kernels/masked_softmax.h"

#include <algorithm>
#include <limits>

#include "core/fast_math.h"
#include "core/lane_reduce.h"
#include "core/simd.h"
#include "core/threading.h"
#include "core/transpose.h"

namespace nl::kernels {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int64_t kGrain = kGrainHeavy;  // elements per thread

// One query row: keys [0, len) are candidates (len = t + 1 under the causal mask, S without);
// valid (or null) marks the padded keys among them. Keys from len on are masked.
// s == y is fine: pass 1 reads each s[j] only to write y[j].
void forward_row(const float* s, float* y, int64_t S, int64_t len, const float* valid,
                 float scale) {
  // 1: scaled scores, -inf on masked keys
  if (valid) {
    for (int64_t j = 0; j < len; ++j) y[j] = valid[j] != 0.0f ? scale * s[j] : kNegInf;
  } else {
    for (int64_t j = 0; j < len; ++j) y[j] = scale * s[j];
  }
  for (int64_t j = len; j < S; ++j) y[j] = 0.0f;
  const float m = lanes::max(y, len);
  if (m == kNegInf) {  // every key masked: all zeros
    for (int64_t j = 0; j < len; ++j) y[j] = 0.0f;
    return;
  }
  // 2: exp(x - m) (x - m <= 0), exactly 0 on masked keys
  for (int64_t j = 0; j < len; ++j) y[j] = y[j] == kNegInf ? 0.0f : fast_exp_nonpos(y[j] - m);
  // 3: normalise
  const float inv = 1.0f / lanes::sum(y, len);
  for (int64_t j = 0; j < len; ++j) y[j] *= inv;
}

// forward_row for S a multiple of 16, on whole 16-lane blocks and 16 rows at a time, with the
// same bits. forward_row's cost is latency more than arithmetic: per row a chain of 16
// dependent max merges, one of up to 31 dependent adds (lanes::sum's fixed order) and five
// short loops, each with its own set-up and tail, too long for the next row's work to hide.
// Here lanes past len and masked keys hold -inf until the exp makes them 0, so every pass runs
// on whole blocks; the max, exact in any order, is merged as a tree; and the sums keep
// lanes::sum's order (whole blocks lane by lane, the lanes 0..15, then the tail in order) with
// one row per lane: the 16 rows' lane partials and tail blocks are transposed, then added one
// vector at a time. A 64×64 head in place (scripts/softmax-rows.cpp, eight runs): causal
// 3.3-4.9 -> 1.7-2.5 µs, all keys 3.8-4.8 -> 2.3-2.8; in lm_ln's step the forward fell from
// 1.4 to 0.7 % of the time (twenty-fifth round, #60).
struct RowGroup {
  int count = 0;                          // rows in the group, <= 16
  int64_t len[simd::kWidth] = {};         // keys [0, len) are candidates
  const float* valid[simd::kWidth] = {};  // the row's key_valid, or null
};

// The largest lane of v (no NaN there), merged as a tree: the max is exact in any order.
float lane_max(const simd::Vf16& v) {
  const simd::Vf8 lo8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  const simd::Vf8 hi8 = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const simd::Vf8 m8 = lo8 > hi8 ? lo8 : hi8;
  const simd::Vf4 lo4 = __builtin_shufflevector(m8, m8, 0, 1, 2, 3);
  const simd::Vf4 hi4 = __builtin_shufflevector(m8, m8, 4, 5, 6, 7);
  const simd::Vf4 m4 = lo4 > hi4 ? lo4 : hi4;
  return std::max(std::max(m4[0], m4[1]), std::max(m4[2], m4[3]));
}

void forward_rows_blocks(const float* s, float* y, int64_t S, const RowGroup& g, float scale) {
  using simd::Vf16;
  using simd::Vi16;
  constexpr int64_t W = simd::kWidth;
  const Vi16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const Vf16 neg_inf = simd::splat(kNegInf);
  alignas(64) float partials[W * W], tails[W * W];  // row i at [i * W]
  bool dead[W] = {};  // every key masked: the row stays all zeros
  for (int i = 0; i < g.count; ++i) {
    const float* si = s + i * S;
    float* yi = y + i * S;
    const int64_t len = g.len[i], live = (len + W - 1) / W * W, whole = len / W * W;
    // 1: scaled scores, -inf on masked keys and past len; the max
    Vf16 block_max = neg_inf;
    for (int64_t j = 0; j < live; j += W) {
      Vi16 keep = lane < static_cast<int32_t>(len - j);
      if (g.valid[i]) keep &= simd::load(g.valid[i] + j) != 0.0f;
      const Vf16 v = keep ? scale * simd::load(si + j) : neg_inf;
      simd::store(yi + j, v);
      block_max = v > block_max ? v : block_max;
    }
    for (int64_t j = live; j < S; j += W) simd::store(yi + j, Vf16{});
    const float m = lane_max(block_max);
    // 2: exp(x - m), 0 for -inf; whole blocks summed lane by lane, the tail block kept (its
    // lanes past len are 0: adding them changes nothing). A row without a tail, or with every
    // key masked (all zeros, dead), adds zeros.
    Vf16 acc = {}, tail = {};
    dead[i] = m == kNegInf;
    for (int64_t j = 0; j < live; j += W) {
      if (dead[i]) {
        simd::store(yi + j, Vf16{});
        continue;
      }
      const Vf16 v = simd::load(yi + j);
      const Vf16 e = v == neg_inf ? Vf16{} : fast_exp_nonpos(v - m);
      simd::store(yi + j, e);
      if (j < whole) acc += e;
      else tail = e;
    }
    simd::store(partials + i * W, acc);
    simd::store(tails + i * W, tail);
  }
  // 3: row i's sum in lane i: its 16 partials in order, then its tail in order
  alignas(64) float partials_t[W * W] = {}, tails_t[W * W] = {};  // lanes past count: 0
  transpose_into(partials, W, g.count, W, partials_t, W);
  transpose_into(tails, W, g.count, W, tails_t, W);
  Vf16 sum = {};
  for (int64_t k = 0; k < W; ++k) sum += simd::load(partials_t + k * W);
  for (int64_t k = 0; k < W; ++k) sum += simd::load(tails_t + k * W);
  alignas(64) float inv[W];
  simd::store(inv, 1.0f / sum);
  for (int i = 0; i < g.count; ++i) {
    if (dead[i]) continue;
    float* yi = y + i * S;
    const int64_t live = (g.len[i] + W - 1) / W * W;
    for (int64_t j = 0; j < live; j += W) simd::store(yi + j, simd::load(yi + j) * inv[i]);
  }
}

// Row r = (n, t) of (N, T, S) scores: its candidate keys [0, len) and its key_valid row.
struct RowMasks {
  int64_t T, S;
  const SoftmaxMask& mask;
  int64_t len(int64_t r) const {
    const int64_t t = r % T;
    return mask.causal ? (t + 1 < S ? t + 1 : S) : S;
  }
  const float* valid(int64_t r) const {
    return mask.key_valid ? mask.key_valid + (r / T / mask.heads) * S : nullptr;
  }
};

}  // namespace

void masked_softmax_forward(const float* s, float* y, int64_t N, int64_t T, int64_t S,
                            float scale, const SoftmaxMask& mask) {
  if (S % simd::kWidth != 0) return masked_softmax_forward_by_rows(s, y, N, T, S, scale, mask);
  const RowMasks rows{T, S, mask};
  parallel_for(N * T, kGrain / (S + 1) + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t g0 = r0; g0 < r1; g0 += simd::kWidth) {
      RowGroup g;
      g.count = static_cast<int>(std::min<int64_t>(simd::kWidth, r1 - g0));
      for (int i = 0; i < g.count; ++i) {
        g.len[i] = rows.len(g0 + i);
        g.valid[i] = rows.valid(g0 + i);
      }
      forward_rows_blocks(s + g0 * S, y + g0 * S, S, g, scale);
    }
  });
}

void masked_softmax_forward_by_rows(const float* s, float* y, int64_t N, int64_t T, int64_t S,
                                    float scale, const SoftmaxMask& mask) {
  const RowMasks rows{T, S, mask};
  parallel_for(N * T, kGrain / (S + 1) + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      forward_row(s + r * S, y + r * S, S, rows.len(r), rows.valid(r), scale);
  });
}

void masked_softmax_backward(const float* y, const float* dy, float* ds, int64_t N, int64_t T,
                             int64_t S, float scale, bool accumulate, bool causal) {
  const int64_t rows = N * T;
  parallel_for(rows, kGrain / (S + 1) + 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* yr = y + r * S;
      const float* dr = dy + r * S;
      float* gr = ds + r * S;
      const int64_t t = r % T, len = causal ? (t + 1 < S ? t + 1 : S) : S;
      const float dot = lanes::dot(dr, yr, len);
      if (accumulate) {
        for (int64_t j = 0; j < len; ++j) gr[j] += scale * yr[j] * (dr[j] - dot);
      } else {
        for (int64_t j = 0; j < len; ++j) gr[j] = scale * yr[j] * (dr[j] - dot);
        for (int64_t j = len; j < S; ++j) gr[j] = 0.0f;
      }
    }
  });
}

}  // namespace nl::kernels
