// RNNRegressor (the adding problem): real features (or tokens) -> Elman RNN with its cell-norm
// option -> the last valid state -> Linear head -> (B) predictions.
#pragma once
#include "layers/rnn.h"
#include "models/model.h"
#include "models/sequence_input.h"

namespace nl {

class RNNRegressor : public Model {
 public:
  RNNRegressor(std::shared_ptr<SequenceInput> input, std::shared_ptr<RNN> rnn, Rng& rng);

  Tensor forward_batch(const Batch& batch) override;  // -> (B)
  std::string type_name() const override { return "RNNRegressor"; }

  std::shared_ptr<SequenceInput> input;
  std::shared_ptr<RNN> rnn;
  ModulePtr head;
};

// Registry factory. Keys: embed_dim and the RNN's keys (hidden_size, nonlinearity, bias, norm).
std::shared_ptr<Model> make_rnn_regressor(ConfigReader& cfg, const ModelArgs& args);

}  // namespace nl
