// Module: the base of every layer and model. It owns named parameters, buffers and child
// modules (registered in order), knows train/eval mode, and gives the dotted names
// ("blocks.0.norm1.weight") used by optimizers, checkpoints and printing.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl {

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;

  // A short type name for printing ("Linear", "LayerNorm").
  virtual std::string type_name() const = 0;
  // Extra text for the printed tree ("in=3, out=4, bias=true").
  virtual std::string extra_repr() const { return ""; }
  // Re-initialises parameters with the layer's default init (PyTorch's, unless stated).
  virtual void reset_parameters() {}

  // The single-input call used by Sequential and registries. Layers that take other inputs
  // keep this throwing and offer their own methods.
  virtual Tensor forward(const Tensor& x);
  // The same with a validity mask over the leading axes ((N) or (B,T), nonzero = real data).
  // Layers that reduce over the batch or time axes (BatchNorm) override it so padded
  // positions never enter their statistics; per-position layers ignore the mask.
  virtual Tensor forward_masked(const Tensor& x, const Tensor& mask);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- registration (call from constructors) -----------------------------------------------
  // Marks t as requiring grad and records it under `name`; returns the same handle.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }

  // ---- traversal ---------------------------------------------------------------------------
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
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
  // Parameters and buffers by dotted name.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values in place (module tensors keep their identity). strict: every key must
  // match and every parameter/buffer must be present; shapes must match (ShapeError).
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  // A readable tree: "RNNClassifier(\n  (embed): Embedding(vocab=30, dim=16)\n ...)".
  std::string print() const;

 protected:
  // Called after train()/eval() changes the mode of this module (children are handled).
  virtual void on_mode_change() {}

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
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
