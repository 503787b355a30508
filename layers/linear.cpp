// Linear layer: forward and backward through the fused linear op (core/ops/linear.cpp): one
// sgemm onto the broadcast bias.
#include "layers/linear.h"

#include <cmath>

#include "core/error.h"
#include "core/ops.h"

namespace nl {

Linear::Linear(const LinearOptions& options, Rng& rng) : options_(options) {
  if (options.in_features < 1 || options.out_features < 1)
    throw ValueError("Linear: in_features and out_features must be >= 1, got in=" +
                     std::to_string(options.in_features) + " out=" + std::to_string(options.out_features));
  weight = register_parameter("weight", Tensor::zeros({options.out_features, options.in_features}));
  if (options.bias) bias = register_parameter("bias", Tensor::zeros({options.out_features}));
  reset_parameters(rng);
}

double Linear::weight_bound(int64_t fan_in) {
  const double a = std::sqrt(5.0);
  const double gain = std::sqrt(2.0 / (1.0 + a * a));
  return gain * std::sqrt(3.0 / static_cast<double>(fan_in));
}

void Linear::reset_parameters(Rng& rng) {
  const int64_t fan_in = options_.in_features;
  const float wb = static_cast<float>(weight_bound(fan_in));
  weight.copy_(Tensor::uniform(weight.shape(), -wb, wb, rng));
  if (bias.defined()) {
    const float bb = static_cast<float>(1.0 / std::sqrt(static_cast<double>(fan_in)));
    bias.copy_(Tensor::uniform(bias.shape(), -bb, bb, rng));
  }
}

Tensor Linear::forward(const Tensor& x) {
  if (x.dim() < 1 || x.size(-1) != options_.in_features)
    throw ShapeError("Linear: input " + shape_str(x.shape()) + " does not end in in_features=" +
                     std::to_string(options_.in_features) + " (weight " + shape_str(weight.shape()) + ")");
  return nl::linear(x, weight, bias);  // (..., in)·(out, in)ᵀ + bias -> (..., out)
}

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(options_.in_features) +
         ", out_features=" + std::to_string(options_.out_features) +
         ", bias=" + (options_.bias ? "true" : "false");
}

ModulePtr make_linear(ConfigReader& cfg, const LayerArgs& args) {
  LinearOptions o;
  o.in_features = cfg.get_int("in_features", 0, "input width (0 = the width of the incoming features)", 0);
  o.out_features = cfg.get_int("out_features", 0, "output width (0 = same as in_features)", 0);
  o.bias = cfg.get_bool("bias", true, "learn an additive bias");
  if (o.in_features == 0) o.in_features = args.features;
  if (o.in_features == 0) cfg.fail("in_features", "is required here (the input width is not known)");
  if (args.features != 0 && o.in_features != args.features)
    cfg.fail("in_features", "is " + std::to_string(o.in_features) + " but the input has " +
                                std::to_string(args.features) + " features");
  if (o.out_features == 0) o.out_features = o.in_features;
  if (!args.rng) throw ValueError("make_linear: LayerArgs.rng is required (parameter init)");
  return std::make_shared<Linear>(o, *args.rng);
}

}  // namespace nl
