// The RNN regressor for the adding problem (see rnn_regressor.h).
#include "models/rnn_regressor.h"

#include "core/error.h"
#include "core/ops.h"
#include "layers/linear.h"
#include "models/model_util.h"
#include "models/rnn_classifier.h"

namespace nl {

RNNRegressor::RNNRegressor(std::shared_ptr<SequenceInput> in, std::shared_ptr<RNN> r, Rng& rng) {
  input = register_module("input", std::move(in));
  rnn = register_module("rnn", std::move(r));
  head = register_module(
      "head", std::make_shared<Linear>(LinearOptions{rnn->options().hidden_size, 1, true}, rng));
}

Tensor RNNRegressor::forward_batch(const Batch& batch) {
  const RNNOutput out = rnn->run(input->forward(batch.inputs), batch.mask);
  Tensor y = head->forward(out.last);  // (B,1)
  return reshape(y, {y.size(0)});
}

std::shared_ptr<Model> make_rnn_regressor(ConfigReader& cfg, const ModelArgs& args) {
  if (args.info.task != TaskKind::regression)
    throw ConfigError("'" + cfg.full_key("type") + "': rnn_regressor needs a regression dataset "
                      "(got '" + task_name(args.info.task) + "'); use rnn_classifier");
  auto [input, rnn] = make_rnn_stack(cfg, args, "rnn_regressor");
  return apply_batchnorm_sync(cfg, std::make_shared<RNNRegressor>(input, rnn, *args.rng));
}

}  // namespace nl
