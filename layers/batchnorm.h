// BatchNorm module over the feature (last) axis of (N,C) and (B,T,C) inputs (Ioffe & Szegedy
// 2015), with PyTorch's conventions: momentum 0.1 weights the new value, eps 1e-5, biased
// variance to normalise, unbiased variance stored in running_var, eval uses running stats.
//
// Masking: forward_masked(x, mask) takes mask (N) or (B,T) (nonzero = valid). Padded
// positions never enter the statistics and get no gradient; their OUTPUT IS 0 (not beta, not
// the input), in training and in eval. With masked = false the mask is ignored (PyTorch's
// BatchNorm1d, which has no lengths argument, issue #70529): padded positions, whatever they
// hold, enter the statistics exactly as valid ones, get gradient, and are normalised like
// them; forward_masked(x, mask) is then forward(x).
//
// Per-time-step mode for RNNs (Cooijmans et al. 2016, arXiv 1603.09025): with steps > 0 the
// running buffers are (steps, C) and forward_step(x, t, mask) normalises step t with its own
// batch statistics in training and updates the running statistics of step min(t, steps-1);
// eval uses step min(t, steps-1)'s running statistics (steps beyond the longest training
// length reuse the last step's). With steps == 0, forward_step uses the one shared set of
// running statistics ("statistics shared over time"); the batch statistics in training are
// still those of step t's batch.
// Fallback (pitfall 11): in training, when the mask leaves fewer than 2 valid rows at a step,
// forward_step normalises with that step's running statistics (like eval) and does not update
// them. A batch that has only one row at all is an error, as in forward().
//
// Across ranks (sync = true; the models' config key model.batchnorm_sync; docs/distributed.md):
// in training, when the process group has more than one rank and no dist::LocalScope is open,
// the batch statistics are those of the rows of EVERY rank (layers/kernels/sync_batchnorm.h):
// the forward all-gathers each rank's (rows, valid count, mean, centred sum of squares) and
// merges them stably in rank order; the backward all-reduces Σdy and Σdy·x̂ when x needs a
// gradient. Masked BN counts only valid rows on each rank. The running statistics are updated
// from the global mean and unbiased variance, so they are the same on every rank. The "fewer
// than 2 valid rows" fallback and the one-row error use the global counts (every rank takes
// the same branch); forward_step syncs each step. dgamma/dbeta stay this rank's sums (the
// trainer all-reduces parameter gradients). Every rank must run the same BN layers in the
// same order. Eval mode, a world of one, or a LocalScope: exactly the single-process path
// (bit-identical to sync = false).
#pragma once
#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct BatchNormOptions {
  int64_t features = 0;      // C
  double eps = 1e-5;         // added to the variance inside the sqrt
  double momentum = 0.1;     // running = (1 - momentum) * running + momentum * batch
  bool affine = true;        // learnable weight (gamma) and bias (beta)
  double weight_init = 1.0;  // initial gamma (Cooijmans et al. use 0.1 in recurrent BN)
  int64_t steps = 0;         // > 0: separate running statistics for each of `steps` time steps
  bool masked = true;        // false: ignore padding masks (statistics over every position)
  bool sync = false;         // true: training statistics over every rank (see the file comment)
};

class BatchNorm : public Module {
 public:
  explicit BatchNorm(const BatchNormOptions& options);

  // x: (N,C) or (B,T,C) -> same shape; statistics over every position (training needs more
  // than one). Not available with steps > 0 (use forward_step).
  Tensor forward(const Tensor& x) override;
  // mask: x's shape without the last axis; see the file comment for padded positions (and
  // for masked = false, which ignores it).
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  // One time step of an RNN: x (B,C), t >= 0, mask (B) or undefined (ignored when masked =
  // false). See the file comment.
  Tensor forward_step(const Tensor& x, int64_t t, const Tensor& mask = Tensor());

  void reset_parameters() override;  // weight = weight_init, bias = 0, running stats reset
  void reset_running_stats();        // running_mean = 0, running_var = 1
  std::string type_name() const override { return "BatchNorm"; }
  std::string extra_repr() const override;

  const BatchNormOptions& options() const { return options_; }
  void set_sync(bool sync) { options_.sync = sync; }
  // Training steps that fell back to running statistics (fewer than 2 valid rows).
  int64_t fallback_count() const { return fallbacks_; }

  Tensor weight, bias;                // (C); undefined without affine
  Tensor running_mean, running_var;  // (C), or (steps, C) in per-step mode

 private:
  bool syncing() const;  // sync, training, and collectives enabled (more than one rank)
  BatchNormOptions options_;
  int64_t fallbacks_ = 0;
};

// Registry factory. Keys: features (default: the parent's width), eps, momentum, affine,
// weight_init, steps, masked.
ModulePtr make_batchnorm(ConfigReader& cfg, const LayerArgs& args);

// Sets options().sync on every BatchNorm in root's module tree (root included); returns how
// many there are. The models apply their batchnorm_sync key with it.
int64_t set_batchnorm_sync(Module& root, bool sync);

}  // namespace nl
