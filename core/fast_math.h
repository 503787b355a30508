// Vectorisable float kernels for transcendental functions on hot paths (the RNN cell, GELU), where
// a libm call per element would cost more than the step's GEMM. Accuracy: a few float ulps
// (tests/core/test_fast_math.cpp checks against std::tanh / std::exp in double).
#pragma once
#include <cstdint>
#include <cstring>

#include "core/simd.h"

namespace nl {

// The core of exp(x) for x in [-87, 0], on a float or on 16 lanes alike (the same operations in
// the same order, so each lane of the vector form gives the scalar form's bits; tests/core/
// test_fast_math.cpp compares them): x = k ln2 + r with |r| <= ln2/2; returns exp(r) by its
// Taylor series to r^7 (truncation < 2e-8 relative) and sets k. The caller scales by 2^k.
template <class V>
inline V exp_reduced(const V& x, V* k) {
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln2 split for exact k*ln2
  // Round to nearest by the 1.5*2^23 shifter (roundf itself would block vectorisation).
  *k = (x * kLog2e + 12582912.0f) - 12582912.0f;
  const V r = (x - *k * kLn2Hi) - *k * kLn2Lo;
  V p = r * (1.0f / 5040.0f) + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p;
}

// exp(x) for x in [-87, 0] (below, exp(-87)): exp_reduced scaled by 2^k through the exponent bits.
inline float fast_exp_nonpos(float x) {
  float k;
  const float p = exp_reduced(x < -87.0f ? -87.0f : x, &k);
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;  // 2^k, k in [-126, 0]
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// fast_exp_nonpos on 16 lanes, for kernels that work on whole vectors
// (layers/kernels/masked_softmax.cpp).
inline simd::Vf16 fast_exp_nonpos(const simd::Vf16& x) {
  simd::Vf16 k;
  const simd::Vf16 p = exp_reduced(x < -87.0f ? simd::splat(-87.0f) : x, &k);
  const simd::Vi16 bits = (__builtin_convertvector(k, simd::Vi16) + 127) << 23;
  return p * (simd::Vf16)bits;  // a vector cast keeps the bits
}

// exp(x) for x <= 0 (-inf included) where results below the normal floats may become 0: exactly
// 0 below -87 (true exp is then < 1.7e-38, at most subnormal), fast_exp_nonpos above. For
// softmax-like rows (x - max <= 0, -inf for masked entries), where libm's scalar expf would
// keep the loop from vectorising.
inline float fast_exp_nonpos_or_zero(float x) {
  const float e = fast_exp_nonpos(x);
  return x < -87.0f ? 0.0f : e;
}

// tanh(x) = sign(x) (1 - e) / (1 + e), e = exp(-2|x|); below |x| = 1/16 the Taylor series
// x - x^3/3 + 2x^5/15 - 17x^7/315 avoids the cancellation in 1 - e.
inline float fast_tanh(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float e = fast_exp_nonpos(-2.0f * ax);
  const float big = (1.0f - e) / (1.0f + e);
  const float x2 = ax * ax;
  const float small =
      ax * (1.0f + x2 * (-1.0f / 3.0f + x2 * (2.0f / 15.0f + x2 * (-17.0f / 315.0f))));
  const float y = ax < 0.0625f ? small : big;
  return x < 0.0f ? -y : y;
}

// erfc(z)·exp(z²) for z >= 0 as t·Q(t), t = 1/(1 + z/2) (the variable of Press et al.,
// Numerical Recipes §6.2, whose form t·exp(-z² + P(t)) needs a second exp). Q is a degree-8
// polynomial fitted (weighted least squares toward minimax relative error) to erfc(z)·exp(z²)/t
// on t in [0.15, 1], i.e. z <= 11.3 (Φ(-16) is far below the smallest float, so larger z only
// meet exp(-z²) = 0); relative error 4e-8 in exact arithmetic, 1.7e-7 in float (Horner).
// Fitted by scripts/fit-erfc.py. Keeping exp(-z²) outside lets GELU's backward share it with
// the normal density.
inline float scaled_erfc_nonneg(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float q = -0.0593167886f;
  q = q * t + 0.285784677f;
  q = q * t - 0.489705607f;
  q = q * t + 0.280934268f;
  q = q * t - 0.0286005688f;
  q = q * t + 0.203522067f;
  q = q * t + 0.242892893f;
  q = q * t + 0.282404242f;
  q = q * t + 0.282084773f;
  return t * q;
}

// The standard normal CDF Φ(x) = erfc(-x/√2)/2, accurate in both tails (no 1 + erf(x)
// cancellation for x << 0); with e = exp(-x²/2) given (= exp(-z²), z = |x|/√2).
inline float normal_cdf_given_exp(float x, float e) {
  const float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const float half_tail = 0.5f * scaled_erfc_nonneg(z) * e;
  return x < 0.0f ? half_tail : 1.0f - half_tail;
}

// exp(-x²/2), the exponential both Φ and φ need.
inline float half_square_exp(float x) { return fast_exp_nonpos(-0.5f * x * x); }

inline float fast_normal_cdf(float x) { return normal_cdf_given_exp(x, half_square_exp(x)); }

// GELU, exact erf form (Hendrycks & Gimpel 2016): y = x·Φ(x).
inline float fast_gelu(float x) { return x * fast_normal_cdf(x); }

// GELU and its derivative Φ(x) + x·φ(x), φ(x) = exp(-x²/2)/√(2π), together: one exp and one
// erfc for both (the forward of a GELU whose gradient will be needed saves dy/dx); y is
// bit for bit fast_gelu(x).
inline void fast_gelu_with_grad(float x, float* y, float* dydx) {
  const float e = half_square_exp(x);
  const float cdf = normal_cdf_given_exp(x, e);
  *y = x * cdf;
  *dydx = cdf + x * (0.39894228040143268f * e);
}

// y[i] = tanh(x[i]) for i < n (the loop vectorises: no calls, no branches).
inline void fast_tanh(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_tanh(x[i]);
}

}  // namespace nl
