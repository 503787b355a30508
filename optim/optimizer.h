// Optimizer base: holds the named parameters, per-parameter state slots (allocated once, so a
// step allocates nothing), step counts, the learning rate and optional gradient clipping, and
// saves/restores all of it by parameter name so a resumed run continues bit-identically.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl {

using NamedParams = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  // `params` as given by Module::named_parameters(); names must be unique.
  Optimizer(NamedParams params, double lr);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update: clips the global gradient norm when grad_clip > 0, then updates every
  // parameter that has a gradient (parameters without one are skipped, as in PyTorch, and
  // their own step count does not advance).
  void step();
  // Drops every parameter's gradient.
  void zero_grad();

  double get_lr() const { return lr_; }
  void set_lr(double lr);
  // Clip the global L2 norm of all gradients to this before each step (0 = off).
  double grad_clip() const { return grad_clip_; }
  void set_grad_clip(double max_norm);
  // The global gradient norm measured by the last step (before clipping; 0 when clipping is
  // off, since it is then not computed).
  double last_grad_norm() const { return last_grad_norm_; }
  // Number of step() calls so far.
  int64_t step_count() const { return step_; }

  const NamedParams& params() const { return params_; }
  virtual std::string type_name() const = 0;

  // State by name: "step" (calls of step()), and per parameter "<name>.step" and
  // "<name>.<slot>" (e.g. "fc.weight.exp_avg"). Counts are stored as two floats
  // [count mod 2^24, count div 2^24] so they stay exact in a float32 checkpoint. The tensors
  // alias the optimizer's (clone to snapshot).
  std::map<std::string, Tensor> state_dict() const;
  // Restores a state_dict() of an optimizer of the same type over the same parameters.
  // Missing or unexpected keys throw ValueError naming the key; wrong shapes ShapeError.
  // Everything is checked before anything is copied.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // Adds a state slot shaped like each parameter, zero-filled (call from constructors).
  void add_slot(const std::string& name);
  // Slot `s` of parameter `i`.
  float* slot(size_t s, size_t i) { return slots_[s].second[i].data(); }
  // Updates elements [offset, offset + n) of parameter i from its gradient: p and g point at
  // element `offset`, and so must the slots (slot(s, i) + offset). `t` is this parameter's step
  // count including this step (1 on its first update). Element by element, so step() may cut a
  // parameter into ranges and run them on the pool's threads: the same bits at any count.
  virtual void update(size_t i, float* p, const float* g, int64_t n, int64_t t, int64_t offset) = 0;

  double lr_;

 private:
  NamedParams params_;
  std::vector<int64_t> param_steps_;
  uint64_t worker_jobs_after_step_ = 0;  // pool_worker_jobs() when the last step() ended
  std::vector<std::pair<std::string, std::vector<Tensor>>> slots_;
  int64_t step_ = 0;
  double grad_clip_ = 0.0;
  double last_grad_norm_ = 0.0;
};

// A count as two exactly representable floats, and back (used for step counts in checkpoints).
Tensor encode_count(int64_t count);
int64_t decode_count(const Tensor& t, const std::string& name);

}  // namespace nl
