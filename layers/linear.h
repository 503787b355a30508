// Linear: y = x·Wᵀ + b over the last axis, for (N,in) and (B,T,in) inputs. The weight is stored
// (out,in) as in PyTorch, so state dicts map one-to-one.
#pragma once
#include "core/config_reader.h"
#include "core/rng.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

class Linear : public Module {
 public:
  // Initialises from `rng` with PyTorch's default (see reset_parameters).
  Linear(const LinearOptions& options, Rng& rng);

  // x: (..., in) -> (..., out)
  Tensor forward(const Tensor& x) override;

  // PyTorch's init: weight Kaiming-uniform with a = √5, i.e. U(±gain·√(3/fan_in)) with
  // gain = √(2/(1+a²)) (He et al. 2015), which comes to U(±1/√fan_in); bias U(±1/√fan_in).
  void reset_parameters(Rng& rng) override;
  using Module::reset_parameters;
  // The weight's init bound gain·√(3/fan_in) (exposed for tests and docs).
  static double weight_bound(int64_t fan_in);

  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  int64_t output_features(int64_t) const override { return options_.out_features; }

  const LinearOptions& options() const { return options_; }
  Tensor weight;  // (out, in)
  Tensor bias;    // (out), undefined when options.bias is false

 private:
  LinearOptions options_;
};

// Registry factory. Keys: in_features (0 = the input width given by the parent),
// out_features (0 = same as in_features), bias (true).
ModulePtr make_linear(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
