// RMSNorm (Zhang & Sennrich 2019, arXiv 1910.07467): y = x / sqrt(mean(x^2) + eps) * gamma per
// row, no centring. Fused forward and backward kernels over a contiguous (R, C) view, a naive
// double reference for tests, and the differentiable function rms_norm().
#pragma once
#include "core/tensor.h"
#include "layers/kernels/norm_common.h"

namespace nl {

namespace kernels {

// x, y: (R, C); gamma: (C) or null. rrms: (R) output, 1 / sqrt(mean(x^2) + eps), saved for
// the backward. The mean square is accumulated in double.
void rmsnorm_forward(const float* x, const float* gamma, int64_t R, int64_t C, float eps,
                     float* y, float* rrms);

// With x̂ = x * rrms and dŷ = gamma * dy:  dx = rrms * (dŷ - x̂ * mean(dŷ * x̂)),
// dgamma = Σ_rows dy * x̂ (per-chunk partials combined in chunk order: deterministic).
void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rrms,
                      int64_t R, int64_t C, const NormGrads& grads);

// Naive double reference over the last C elements of x; gamma (C) and dy optional.
// ref.var holds the mean square per row; dbeta stays empty.
NormReference rmsnorm_reference(const Tensor& x, int64_t C, const Tensor& gamma, const Tensor& dy,
                                double eps);

}  // namespace kernels

// RMSNorm over the last axis of x; weight (C) or undefined. Differentiable in x and weight.
Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps = 1e-6f);

}  // namespace nl
