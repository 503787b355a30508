// LayerNorm module (Ba, Kiros & Hinton 2016): normalises each position over its trailing
// `normalized_shape` dims with PyTorch's semantics (biased variance, eps inside the sqrt,
// weight = 1, bias = 0 at init). Works at any batch size, including 1. The math is the fused
// kernel in layers/kernels/layernorm.h.
#pragma once
#include <string>

#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct LayerNormOptions {
  Shape normalized_shape;          // trailing dims normalised, e.g. {C} for (B,T,C)
  double eps = 1e-5;               // added to the variance inside the sqrt
  bool elementwise_affine = true;  // learnable weight (gamma) and bias (beta)
  std::string key;  // the config key of normalized_shape (for errors); empty when built in code
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  // x: (..., *normalized_shape) -> same shape. The mask of forward_masked is ignored: each
  // position is normalised on its own, so padding cannot leak into real positions. (With a
  // normalized_shape over time, e.g. [T, C], padded positions do enter each example's
  // statistics, and every batch must have exactly T steps: when built from a config, a
  // mismatch is a ConfigError naming the key and data.loader.length_mode.)
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
