// LayerNorm (Ba, Kiros & Hinton 2016, arXiv 1607.06450, eq. 3-4): the fused forward and
// backward kernels over the rows of a contiguous (R, C) view, a naive double reference for
// tests, and the differentiable function layer_norm() that records an autograd node.
// The same kernels serve GroupNorm: there a "row" is one group of one position and the affine
// parameters repeat with period `groups` rows.
#pragma once
#include "core/tensor.h"
#include "layers/kernels/norm_common.h"

namespace nl {

namespace kernels {

// y = (x - mean) * rstd * gamma + beta per row, biased variance, eps inside the sqrt.
// x, y: (R, C).  gamma, beta: (groups * C) or null (no affine); row r uses block r % groups.
// mean, mean_lo, rstd: (R) outputs saved for the backward (mean = mean_hi + mean_lo, see
// split_mean).
void layernorm_forward(const float* x, const float* gamma, const float* beta, int64_t R,
                       int64_t C, int64_t groups, float eps, float* y, float* mean,
                       float* mean_lo, float* rstd);

// Closed form from the saved statistics, with dŷ = gamma * dy and x̂ = (x - mean) * rstd:
//   dx = rstd * (dŷ - mean(dŷ) - x̂ * mean(dŷ * x̂)),  dgamma = Σ_rows dy * x̂,  dbeta = Σ_rows dy.
// dy, x: (R, C). dgamma/dbeta are reduced from per-chunk partials in chunk order, so they are
// bit-identical across runs at a given thread count.
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* mean_lo, const float* rstd, int64_t R, int64_t C,
                        int64_t groups, const NormGrads& grads);

// Naive double-precision LayerNorm over the last C elements of x (any shape), with optional
// gamma/beta ((C) or undefined) and upstream gradient dy (x's shape, or undefined).
NormReference layernorm_reference(const Tensor& x, int64_t C, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps);

}  // namespace kernels

// LayerNorm over the trailing dims `normalized_shape` of x (PyTorch's F.layer_norm).
// weight, bias: shaped normalized_shape, or undefined (no affine). Differentiable in all three.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps = 1e-5f);

}  // namespace nl
