// BatchNorm module: options, parameters and running buffers, whole-batch / masked / per-step
// forward through the fused kernels (or across ranks with sync), registry factory.
#include "layers/batchnorm.h"

#include <sstream>

#include "core/distributed.h"
#include "core/error.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/sync_batchnorm.h"

namespace nl {

BatchNorm::BatchNorm(const BatchNormOptions& options) : options_(options) {
  const int64_t C = options_.features;
  if (C <= 0) throw ValueError("BatchNorm: features must be > 0, got " + std::to_string(C));
  if (!(options_.eps > 0.0)) throw ValueError("BatchNorm: eps must be > 0");
  if (!(options_.momentum >= 0.0 && options_.momentum <= 1.0))
    throw ValueError("BatchNorm: momentum must be in [0, 1]");
  if (options_.steps < 0) throw ValueError("BatchNorm: steps must be >= 0");
  if (options_.affine) {
    weight = register_parameter("weight", Tensor::empty({C}));
    bias = register_parameter("bias", Tensor::empty({C}));
  }
  const Shape stats = options_.steps > 0 ? Shape{options_.steps, C} : Shape{C};
  running_mean = register_buffer("running_mean", Tensor::zeros(stats));
  running_var = register_buffer("running_var", Tensor::ones(stats));
  reset_parameters();
}

void BatchNorm::reset_running_stats() {
  running_mean.fill_(0.0f);
  running_var.fill_(1.0f);
}

void BatchNorm::reset_parameters() {
  if (weight.defined()) weight.fill_(static_cast<float>(options_.weight_init));
  if (bias.defined()) bias.fill_(0.0f);
  reset_running_stats();
}

Tensor BatchNorm::forward(const Tensor& x) { return forward_masked(x, Tensor()); }

Tensor BatchNorm::forward_masked(const Tensor& x, const Tensor& mask) {
  if (options_.steps > 0)
    throw ValueError("BatchNorm with steps = " + std::to_string(options_.steps) +
                     " keeps statistics per time step: call forward_step(x, t, mask)");
  const Tensor m = options_.masked ? mask : Tensor();
  const float momentum = static_cast<float>(options_.momentum), eps = static_cast<float>(options_.eps);
  if (syncing()) {  // statistics over every rank's rows
    check_batch_norm_inputs(x, m, weight, bias, running_mean, running_var, eps);
    return sync_batch_norm(x, m, weight, bias, running_mean, running_var, sync_batch_stats(x, m),
                           momentum, eps);
  }
  return batch_norm(x, m, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

bool BatchNorm::syncing() const {
  return options_.sync && is_training() && dist::collectives_enabled();
}

Tensor BatchNorm::forward_step(const Tensor& x, int64_t t, const Tensor& step_mask) {
  const Tensor mask = options_.masked ? step_mask : Tensor();  // unmasked: every row counts
  const int64_t C = options_.features;
  if (!x.defined() || x.dim() != 2 || x.size(1) != C)
    throw ShapeError("BatchNorm.forward_step: expected x of shape (B, " + std::to_string(C) +
                     "), got " + (x.defined() ? shape_str(x.shape()) : std::string("undefined")));
  if (t < 0) throw ValueError("BatchNorm.forward_step: time step must be >= 0, got " + std::to_string(t));
  Tensor rm = running_mean, rv = running_var;
  if (options_.steps > 0) {  // the step's own row of the (steps, C) buffers (free views)
    const int64_t s = std::min(t, options_.steps - 1);
    rm = running_mean.slice(0, s, s + 1).reshape({C});
    rv = running_var.slice(0, s, s + 1).reshape({C});
  }
  const float momentum = static_cast<float>(options_.momentum), eps = static_cast<float>(options_.eps);
  if (syncing()) {
    // The same rule as below on the counts over every rank, so every rank takes the same branch;
    // the fallback normalises locally with running statistics (no more communication).
    check_batch_norm_inputs(x, mask, weight, bias, rm, rv, eps);
    const SyncBatchStats stats = sync_batch_stats(x, mask);
    if (stats.rows > 1 && stats.count < 2) {
      ++fallbacks_;
      return batch_norm(x, mask, weight, bias, rm, rv, false, momentum, eps);
    }
    return sync_batch_norm(x, mask, weight, bias, rm, rv, stats, momentum, eps);
  }
  bool batch_stats = is_training();
  // Too few valid rows at this step for batch statistics (pitfall 11): use the running ones.
  // A batch with a single row is still the error of forward() (batch_norm raises it).
  if (batch_stats && x.size(0) > 1 && count_valid(mask, x.size(0)) < 2) {
    batch_stats = false;
    ++fallbacks_;
  }
  return batch_norm(x, mask, weight, bias, rm, rv, batch_stats, momentum, eps);
}

std::string BatchNorm::extra_repr() const {
  std::ostringstream os;
  os << "features=" << options_.features << ", eps=" << options_.eps
     << ", momentum=" << options_.momentum << ", affine=" << (options_.affine ? "true" : "false");
  if (options_.weight_init != 1.0) os << ", weight_init=" << options_.weight_init;
  if (options_.steps > 0) os << ", steps=" << options_.steps;
  if (!options_.masked) os << ", masked=false";
  if (options_.sync) os << ", sync=true";
  return os.str();
}

int64_t set_batchnorm_sync(Module& root, bool sync) {
  int64_t n = 0;
  if (auto* bn = dynamic_cast<BatchNorm*>(&root)) {
    bn->set_sync(sync);
    ++n;
  }
  for (const auto& [name, child] : root.children()) n += set_batchnorm_sync(*child, sync);
  return n;
}

ModulePtr make_batchnorm(ConfigReader& cfg, const LayerArgs& args) {
  BatchNormOptions o;
  o.features = cfg.get_int("features", args.features,
                           "number of features C (default: the width the parent passes in)", 0);
  if (o.features == 0) cfg.fail("features", "is unknown here: set 'features'");
  o.eps = cfg.get_number("eps", 1e-5, "added to the variance inside the square root", 0.0, 1.0);
  if (!(o.eps > 0.0)) cfg.fail("eps", "must be > 0");
  o.momentum = cfg.get_number(
      "momentum", 0.1, "weight of the new batch value in the running statistics (PyTorch's convention)",
      0.0, 1.0);
  o.affine = cfg.get_bool("affine", true, "learnable per-feature weight and bias");
  o.weight_init = cfg.get_number("weight_init", 1.0,
                                 "initial weight gamma (Cooijmans et al. 2016 use 0.1)", -1e3, 1e3);
  o.steps = cfg.get_int("steps", 0,
                        "0: one set of running statistics; > 0: separate statistics per time step "
                        "(recurrent BN), steps beyond the last reuse the last step's",
                        0, 1 << 20);
  o.masked = cfg.get_bool(
      "masked", true,
      "true: padded positions are left out of the statistics (output 0 there); false: they enter "
      "mean and variance like valid ones (PyTorch's BatchNorm1d, issue #70529)");
  return std::make_shared<BatchNorm>(o);
}

}  // namespace nl
