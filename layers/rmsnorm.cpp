// RMSNorm module: options, parameter, forward through the fused kernel, registry factory.
#include "layers/rmsnorm.h"

#include <sstream>

#include "core/error.h"
#include "layers/kernels/rmsnorm.h"

namespace nl {

RMSNorm::RMSNorm(const RMSNormOptions& options) : options_(options) {
  if (options_.features <= 0)
    throw ValueError("RMSNorm: features must be > 0, got " + std::to_string(options_.features));
  if (!(options_.eps > 0.0)) throw ValueError("RMSNorm: eps must be > 0");
  if (options_.affine) weight = register_parameter("weight", Tensor::empty({options_.features}));
  reset_parameters();
}

void RMSNorm::reset_parameters() {
  if (weight.defined()) weight.fill_(1.0f);
}

Tensor RMSNorm::forward(const Tensor& x) {
  if (x.defined() && x.dim() >= 1 && x.size(-1) != options_.features)
    throw ShapeError("RMSNorm: input " + shape_str(x.shape()) + " does not end in the " +
                     std::to_string(options_.features) + " features of the layer");
  return rms_norm(x, weight, static_cast<float>(options_.eps));
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream os;
  os << "features=" << options_.features << ", eps=" << options_.eps
     << ", affine=" << (options_.affine ? "true" : "false");
  return os.str();
}

ModulePtr make_rmsnorm(ConfigReader& cfg, const LayerArgs& args) {
  RMSNormOptions o;
  o.features = cfg.get_int("features", args.features,
                           "number of features C (default: the width the parent passes in)", 0);
  if (o.features == 0) cfg.fail("features", "is unknown here: set 'features'");
  o.eps = cfg.get_number("eps", 1e-6, "added to the mean square inside the square root", 0.0, 1.0);
  if (!(o.eps > 0.0)) cfg.fail("eps", "must be > 0");
  o.affine = cfg.get_bool("affine", true, "learnable per-feature weight");
  return std::make_shared<RMSNorm>(o);
}

}  // namespace nl
