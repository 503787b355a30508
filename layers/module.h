// Module: the base of every layer and model. It owns named parameters, buffers and child
// modules (registered in order), knows train/eval mode, and gives the dotted names
// ("blocks.0.norm1.weight") used by optimizers, checkpoints and printing.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace nl {

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;

  // A short type name for printing ("Linear", "LayerNorm").
  virtual std::string type_name() const = 0;
  // Extra text for the printed tree ("in=3, out=4, bias=true").
  virtual std::string extra_repr() const { return ""; }
  // Re-initialises this module's own parameters with a deterministic default init (norms:
  // gamma=1, beta=0). Layers with random init override reset_parameters(Rng&) instead.
  virtual void reset_parameters() {}
  // Re-initialises the whole tree: by default reset_parameters() for this module, then each
  // child's reset_parameters(rng) in registration order (so one seed gives one init).
  // Layers with random init (Linear, Embedding) override it for their own parameters.
  virtual void reset_parameters(Rng& rng);
  // The width of the output feature axis for an input feature width `in` (Sequential and the
  // registries chain widths with it). Shape-preserving layers keep the default.
  virtual int64_t output_features(int64_t in) const { return in; }

  // The single-input call used by Sequential and registries. Layers that take other inputs
  // keep this throwing and offer their own methods.
  virtual Tensor forward(const Tensor& x);
  // The same with a validity mask over the leading axes ((N) or (B,T), nonzero = real data).
  // Layers that reduce over the batch or time axes (BatchNorm) override it so padded
  // positions never enter their statistics; per-position layers ignore the mask.
  virtual Tensor forward_masked(const Tensor& x, const Tensor& mask);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- registration (call from constructors) -----------------------------------------------
  // Marks t as requiring grad and records it under `name`; returns the same handle. Names are
  // non-empty, contain no '.', and are unique among this module's parameters, buffers and
  // children. A parameter must be a leaf (not the output of an op).
  Tensor register_parameter(const std::string& name, Tensor t);
  // A non-trainable tensor saved in the state dict (running statistics, counters).
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // ---- traversal ---------------------------------------------------------------------------
  // Registration order, depth first: own tensors, then each child's under "<child>.".
  // A tensor registered in several places (tied weights) is listed once, under its first
  // name, so optimizers never update it twice.
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  // Every module of the tree with its dotted path ("" for this one), parents before children.
  // (Raw pointers: valid while this module lives; the root need not be held by a shared_ptr.)
  std::vector<std::pair<std::string, const Module*>> named_modules() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }
  int64_t num_parameters() const;

  // ---- mode --------------------------------------------------------------------------------
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void zero_grad();

  // ---- checkpoints -------------------------------------------------------------------------
  // Parameters and buffers by dotted name. The tensors alias the module's (no copy): clone
  // them to keep a snapshot.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in place (module tensors keep their identity). strict: every key must
  // match and every parameter/buffer must be present (ValueError naming the key); shapes
  // must match (ShapeError naming the key and both shapes). Everything is checked before
  // anything is copied, so a failed load leaves the module unchanged.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // A readable tree: "RNNClassifier(\n  (embed): Embedding(vocab=30, dim=16)\n ...)".
  std::string print() const;

 protected:
  // Called after train()/eval() changes the mode of this module (children are handled).
  virtual void on_mode_change() {}

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void check_new_name(const char* what, const std::string& name) const;
  void collect(const std::string& prefix, bool buffers,
               std::vector<std::pair<std::string, Tensor>>& out) const;
  void print_into(std::string& out, int indent) const;

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

}  // namespace nl
