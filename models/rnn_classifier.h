// RNNClassifier: token embedding (or real features, optionally projected) -> Elman RNN with
// its cell-norm option (none | layernorm | batchnorm | batchnorm_step | rmsnorm) -> the last
// valid state or the masked mean of the states -> dropout -> Linear head -> (B, classes).
// Padding never changes the output: the RNN carries its state over padded steps and the
// mean pools over valid steps only.
#pragma once
#include <string>

#include "layers/rnn.h"
#include "models/model.h"
#include "models/sequence_input.h"

namespace nl {

class RNNClassifier : public Model {
 public:
  // pool: "last" | "mean"; head_out: number of classes.
  RNNClassifier(std::shared_ptr<SequenceInput> input, std::shared_ptr<RNN> rnn, std::string pool,
                double dropout, int64_t head_out, Rng& rng);

  Tensor forward_batch(const Batch& batch) override;  // -> (B, head_out)
  std::string type_name() const override { return "RNNClassifier"; }
  std::string extra_repr() const override { return "pool=" + pool_; }

  std::shared_ptr<SequenceInput> input;
  std::shared_ptr<RNN> rnn;
  ModulePtr drop, head;  // drop is null when dropout == 0

 private:
  std::string pool_;
};

// Registry factory. Keys: embed_dim, pool, dropout, and the RNN's own keys (hidden_size,
// nonlinearity, bias, norm {type, eps, momentum, weight_init, steps}) at the model level.
std::shared_ptr<Model> make_rnn_classifier(ConfigReader& cfg, const ModelArgs& args);

// Shared by the RNN models: reads embed_dim and the RNN keys, builds input + RNN.
std::pair<std::shared_ptr<SequenceInput>, std::shared_ptr<RNN>> make_rnn_stack(
    ConfigReader& cfg, const ModelArgs& args, const std::string& model);

}  // namespace nl
