// The RNN sequence classifier (see rnn_classifier.h).
#include "models/rnn_classifier.h"

#include "core/error.h"
#include "core/ops.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "models/model_util.h"
#include "models/pooling.h"

namespace nl {

RNNClassifier::RNNClassifier(std::shared_ptr<SequenceInput> in, std::shared_ptr<RNN> r,
                             std::string pool, double dropout, int64_t head_out, Rng& rng)
    : pool_(std::move(pool)) {
  if (pool_ != "last" && pool_ != "mean")
    throw ValueError("RNNClassifier: pool must be 'last' or 'mean', got '" + pool_ + "'");
  input = register_module("input", std::move(in));
  rnn = register_module("rnn", std::move(r));
  if (dropout > 0.0) drop = register_module("drop", std::make_shared<Dropout>(DropoutOptions{static_cast<float>(dropout)}, rng.fork_seed()));
  const int64_t H = rnn->options().hidden_size;
  head = register_module("head", std::make_shared<Linear>(LinearOptions{H, head_out, true}, rng));
}

Tensor RNNClassifier::forward_batch(const Batch& batch) {
  const Tensor x = input->forward(batch.inputs);  // (B,T,C)
  const RNNOutput out = rnn->run(x, batch.mask);
  Tensor pooled = pool_ == "last" ? out.last : masked_mean(out.states, batch.mask);  // (B,H)
  if (drop) pooled = drop->forward(pooled);
  return head->forward(pooled);
}

std::pair<std::shared_ptr<SequenceInput>, std::shared_ptr<RNN>> make_rnn_stack(
    ConfigReader& cfg, const ModelArgs& args, const std::string& model) {
  const DatasetInfo& info = args.info;
  Rng& rng = model_rng(args, model);
  const int64_t embed_dim = cfg.get_int(
      "embed_dim", info.vocab_size > 0 ? 32 : 0,
      "token data: embedding width; real features: 0 feeds them to the RNN as they are, "
      "> 0 projects them linearly to this width first",
      0, 1 << 16);
  auto input = std::make_shared<SequenceInput>(info, embed_dim, rng);
  // The RNN reads its keys (hidden_size, nonlinearity, bias, norm) from the model object.
  ModulePtr r = make_rnn(cfg, LayerArgs{input->out_features(), &rng});
  auto rnn = std::dynamic_pointer_cast<RNN>(r);
  if (!rnn) throw ValueError(model + ": make_rnn did not return an RNN");
  return {input, rnn};
}

std::shared_ptr<Model> make_rnn_classifier(ConfigReader& cfg, const ModelArgs& args) {
  const int64_t classes = head_width(args.info, cfg, "rnn_classifier");
  if (args.info.task != TaskKind::classification)
    throw ConfigError("'" + cfg.full_key("type") + "': rnn_classifier needs a classification "
                      "dataset; use rnn_regressor for regression");
  auto [input, rnn] = make_rnn_stack(cfg, args, "rnn_classifier");
  const std::string pool = cfg.get_string(
      "pool", "last", "what the head sees: the last valid state or the mean over valid steps",
      {"last", "mean"});
  const double dropout = cfg.get_number("dropout", 0.0, "dropout before the head", 0.0, 0.99);
  return apply_batchnorm_sync(
      cfg, std::make_shared<RNNClassifier>(input, rnn, pool, dropout, classes, *args.rng));
}

}  // namespace nl
