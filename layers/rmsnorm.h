// RMSNorm module (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * weight over the last
// axis, per position; weight = 1 at init, no bias, no centring. Kernel: layers/kernels/rmsnorm.h.
#pragma once
#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

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
