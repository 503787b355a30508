// MLP: flat input -> [input norm] -> [Linear -> norm -> activation -> dropout] x N -> Linear head.
// The norm sits between each hidden Linear and its activation (as the mlp_ln / mlp_bn
// reference workloads), so {"norm": {"type": "batchnorm"}} vs "layernorm" vs "none" is the
// only difference between the LN-vs-BN lab's MLP variants. The optional input norm
// ("input_norm": "layernorm" | "batchnorm") normalises the raw input features before the
// first Linear (experiment C2: LN over features of very different scales vs BN per feature).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "models/model.h"
#include "models/module_list.h"

namespace nl {

struct MLPOptions {
  int64_t in_features = 0;
  std::vector<int64_t> hidden = {256, 256};
  int64_t out_features = 0;
  std::string activation = "relu";  // "relu" | "gelu" | "tanh"
  double dropout = 0.0;
  std::string input_norm = "none";  // "none" | "layernorm" | "batchnorm", over in_features
};

// One hidden layer: Linear -> norm -> activation -> dropout.
class MLPLayer : public Module {
 public:
  MLPLayer(int64_t in, int64_t out, ModulePtr norm, std::string activation, double dropout,
           Rng& rng);
  Tensor forward(const Tensor& x) override;  // (N,in) -> (N,out)
  std::string type_name() const override { return "MLPLayer"; }
  std::string extra_repr() const override { return activation_; }

  ModulePtr linear, norm, drop;  // drop is null when dropout == 0

 private:
  std::string activation_;
};

class MLP : public Model {
 public:
  // `norm_factory(width)` builds the norm of a hidden layer of that width.
  MLP(const MLPOptions& options, TaskKind task, const std::function<ModulePtr(int64_t)>& norm_factory,
      Rng& rng);

  // inputs (B,F) flat, or (B,T,F) fixed-length sequences flattened to (B,T*F).
  // -> (B,num_classes) logits, or (B) predictions for regression.
  Tensor forward_batch(const Batch& batch) override;
  Tensor forward(const Tensor& x) override;  // (B,in_features) -> head output
  std::string type_name() const override { return "MLP"; }
  std::string extra_repr() const override;

  ModulePtr input_norm;  // null for input_norm "none"
  std::shared_ptr<ModuleList<MLPLayer>> hidden;
  ModulePtr head;

 private:
  MLPOptions options_;
  TaskKind task_;
};

// Registry factory: reads hidden, activation, norm, dropout, input_norm from cfg.
std::shared_ptr<Model> make_mlp(ConfigReader& cfg, const ModelArgs& args);

}  // namespace nl
