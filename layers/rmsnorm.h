// RMSNorm (Zhang & Sennrich 2019, arXiv 1910.07467): y = x / sqrt(mean(x^2) + eps) * gamma over
// the last axis, per position; no centring, no bias. One file pair holds the whole layer (the
// worked example of docs/adding-a-layer.md): the fused forward and backward kernels over a
// contiguous (R, C) view, a naive double reference for tests, the differentiable function
// rms_norm(), the RMSNorm module and its registry factory.
#pragma once
#include "core/config_reader.h"
#include "core/tensor.h"
#include "layers/kernels/norm_common.h"
#include "layers/module.h"
#include "layers/registry.h"

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

// ---- the module ----------------------------------------------------------------------------

struct RMSNormOptions {
  int64_t features = 0;  // C, the last axis
  double eps = 1e-6;     // added to the mean square inside the sqrt
  bool affine = true;    // learnable per-feature weight (gamma)
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(const RMSNormOptions& options);
  // x: (..., C) -> same shape; per position, so the mask of forward_masked is not needed.
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;  // weight = 1
  std::string type_name() const override { return "RMSNorm"; }
  std::string extra_repr() const override;

  const RMSNormOptions& options() const { return options_; }
  Tensor weight;  // (C); undefined without affine

 private:
  RMSNormOptions options_;
};

// Registry factory. Keys: features (default: the parent's width), eps, affine.
ModulePtr make_rmsnorm(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
