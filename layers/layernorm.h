// LayerNorm module (Ba, Kiros & Hinton 2016): normalises each position over its trailing
// `normalized_shape` dims with PyTorch's semantics (biased variance, eps inside the sqrt,
// weight = 1, bias = 0 at init). Works at any batch size, including 1. The math is the fused
// kernel in layers/kernels/layernorm.h.
#pragma once
#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct LayerNormOptions {
  Shape normalized_shape;          // trailing dims normalised, e.g. {C} for (B,T,C)
  double eps = 1e-5;               // added to the variance inside the sqrt
  bool elementwise_affine = true;  // learnable weight (gamma) and bias (beta)
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  // x: (..., *normalized_shape) -> same shape. The mask of forward_masked is ignored: each
  // position is normalised on its own, so padding cannot leak into real positions.
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;  // weight = 1, bias = 0
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  const LayerNormOptions& options() const { return options_; }
  Tensor weight, bias;  // shaped normalized_shape; undefined without affine

 private:
  LayerNormOptions options_;
};

// Registry factory. Keys: features (default: the parent's width), normalized_shape, eps,
// affine (-> elementwise_affine).
ModulePtr make_layernorm(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
