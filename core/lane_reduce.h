// Row reductions (sum, dot, max) through kLanes partial results merged in a fixed order. The
// compiler may not reorder a float sum by itself, so a plain `s += v[j]` loop stays scalar; with
// kLanes independent accumulators it vectorises. The order depends only on n, never on how rows
// are split across threads, so results are the same bits at every thread count.
// Where a term is a product (dot), the compiler may fuse it with the add or not, loop by loop:
// GCC 12 fuses the in-order tail at some lengths and not at others (twenty-fifth round,
// docs/performance-history.md). The bits are fixed for a given build, not across compilers.
#pragma once
#include <cstdint>
#include <limits>

namespace nl::lanes {

constexpr int kLanes = 16;

// term(0) + ... + term(n - 1): lane k sums the terms j ≡ k (mod kLanes) of the full blocks, the
// lanes are added 0..15, then the tail in order.
template <class Term>
inline float sum(int64_t n, Term term) {
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += term(j + k);
  float s = 0.0f;
  for (int k = 0; k < kLanes; ++k) s += acc[k];
  for (; j < n; ++j) s += term(j);
  return s;
}

inline float sum(const float* v, int64_t n) {
  return sum(n, [v](int64_t j) { return v[j]; });
}

inline float dot(const float* a, const float* b, int64_t n) {
  return sum(n, [a, b](int64_t j) { return a[j] * b[j]; });
}

// The largest of v[0..n), -inf for n == 0 (NaNs are skipped, as by `v > m ? v : m`).
inline float max(const float* v, int64_t n) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float acc[kLanes];
  for (int k = 0; k < kLanes; ++k) acc[k] = kNegInf;
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] = v[j + k] > acc[k] ? v[j + k] : acc[k];
  float m = kNegInf;
  for (int k = 0; k < kLanes; ++k) m = acc[k] > m ? acc[k] : m;
  for (; j < n; ++j) m = v[j] > m ? v[j] : m;
  return m;
}

}  // namespace nl::lanes
