// Vectorisable float kernels for transcendental functions on hot paths (the RNN cell, GELU), where
// a libm call per element would cost more than the step's GEMM. Accuracy: a few float ulps
// (tests/core/test_fast_math.cpp checks against std::tanh / std::exp in double).
#pragma once
#include <cstdint>
#include <cstring>

namespace nl {

// exp(x) for x in [-87, 0]: x = k ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to
// r^7 (truncation < 2e-8 relative), then scaled by 2^k through the exponent bits.
inline float fast_exp_nonpos(float x) {
  x = x < -87.0f ? -87.0f : x;
  const float kLog2e = 1.44269504088896341f;
  const float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;  // ln2 split for exact k*ln2
  // Round to nearest by the 1.5*2^23 shifter (roundf itself would block vectorisation).
  const float kf = (x * kLog2e + 12582912.0f) - 12582912.0f;
  const float r = (x - kf * kLn2Hi) - kf * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(kf) + 127) << 23;  // 2^k, k in [-126, 0]
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
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

// erfc(z) for z >= 0 with relative error < 1.2e-7 over the whole range (the Chebyshev-fitted
// form t·exp(-z² + P(t)), t = 1/(1 + z/2), of Press et al., Numerical Recipes, §6.2), on
// fast_exp_nonpos: no libm call, so loops over it vectorise.
inline float fast_erfc_nonneg(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  float a = p - z * z;  // <= ~1e-8 at z = 0; exp of a tiny positive number is still accurate
  a = a > 0.0f ? 0.0f : a;
  return t * fast_exp_nonpos(a);
}

// The standard normal CDF Φ(x) = erfc(-x/√2)/2, accurate in both tails (no 1 + erf(x)
// cancellation for x << 0).
inline float fast_normal_cdf(float x) {
  const float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const float half_tail = 0.5f * fast_erfc_nonneg(z);
  return x < 0.0f ? half_tail : 1.0f - half_tail;
}

// GELU, exact erf form (Hendrycks & Gimpel 2016): y = x·Φ(x).
inline float fast_gelu(float x) { return x * fast_normal_cdf(x); }

// Its derivative: Φ(x) + x·φ(x), φ(x) = exp(-x²/2)/√(2π).
inline float fast_gelu_grad(float x) {
  const float pdf = 0.39894228040143268f * fast_exp_nonpos(-0.5f * x * x);
  return fast_normal_cdf(x) + x * pdf;
}

// y[i] = tanh(x[i]) for i < n (the loop vectorises: no calls, no branches).
inline void fast_tanh(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fast_tanh(x[i]);
}

}  // namespace nl
