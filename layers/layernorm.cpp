// LayerNorm module: options, parameters, forward through the fused kernel, registry factory.
#include "layers/layernorm.h"

#include <algorithm>

#include "core/error.h"
#include "layers/kernels/layernorm.h"

namespace nl {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  if (options_.normalized_shape.empty())
    throw ValueError("LayerNorm: normalized_shape must not be empty");
  for (int64_t d : options_.normalized_shape)
    if (d <= 0)
      throw ValueError("LayerNorm: normalized_shape " + shape_str(options_.normalized_shape) +
                       " must have positive extents");
  if (!(options_.eps > 0.0)) throw ValueError("LayerNorm: eps must be > 0");
  if (options_.elementwise_affine) {
    weight = register_parameter("weight", Tensor::empty(options_.normalized_shape));
    bias = register_parameter("bias", Tensor::empty(options_.normalized_shape));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (weight.defined()) weight.fill_(1.0f);
  if (bias.defined()) bias.fill_(0.0f);
}

Tensor LayerNorm::forward(const Tensor& x) {
  const Shape& ns = options_.normalized_shape;
  const int64_t k = static_cast<int64_t>(ns.size());
  if (!options_.key.empty() && x.defined() && x.dim() >= k &&
      !std::equal(ns.begin(), ns.end(), x.shape().end() - k)) {
    // A config error, not a crash: typically normalized_shape [T, C] on batches padded to
    // their own longest sequence.
    std::string msg = "'" + options_.key + "' = " + shape_str(ns) + " does not match the trailing dims of the input " +
                      shape_str(x.shape());
    if (k > 1)
      msg += "; normalising over the time axis needs every batch padded to the same length: set "
             "data.loader.length_mode to fixed (and every split's longest sequence must be " +
             std::to_string(ns[0]) + ")";
    throw ConfigError(msg);
  }
  return layer_norm(x, options_.normalized_shape, weight, bias, static_cast<float>(options_.eps));
}

std::string LayerNorm::extra_repr() const {
  std::string s = "normalized_shape=" + shape_str(options_.normalized_shape);
  s += ", eps=" + std::to_string(options_.eps);
  s += std::string(", elementwise_affine=") + (options_.elementwise_affine ? "true" : "false");
  return s;
}

ModulePtr make_layernorm(ConfigReader& cfg, const LayerArgs& args) {
  const int64_t features = cfg.get_int(
      "features", args.features,
      "width of the normalised feature axis (default: the width the parent passes in)", 0);
  LayerNormOptions o;
  o.normalized_shape = cfg.get_int_list(
      "normalized_shape", features > 0 ? std::vector<int64_t>{features} : std::vector<int64_t>{},
      "trailing dims normalised per position (default: [features]); e.g. [C] for (B,T,C)");
  if (o.normalized_shape.empty())
    cfg.fail("features", "is unknown here: set 'features' (or 'normalized_shape')");
  o.eps = cfg.get_number("eps", 1e-5, "added to the variance inside the square root", 0.0, 1.0);
  if (!(o.eps > 0.0)) cfg.fail("eps", "must be > 0");
  // "affine" (not PyTorch's "elementwise_affine") so that one norm config flips LN <-> BN.
  o.elementwise_affine = cfg.get_bool("affine", true, "learnable per-element weight and bias");
  o.key = cfg.full_key("normalized_shape");
  return std::make_shared<LayerNorm>(o);
}

}  // namespace nl
