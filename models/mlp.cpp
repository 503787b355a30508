// The MLP model (see mlp.h).
#include "models/mlp.h"

#include "core/error.h"
#include "core/ops.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "layers/registry.h"
#include "models/model_util.h"

namespace nl {

MLPLayer::MLPLayer(int64_t in, int64_t out, ModulePtr n, std::string activation, double dropout,
                   Rng& rng)
    : activation_(std::move(activation)) {
  linear = register_module("linear", std::make_shared<Linear>(LinearOptions{in, out, true}, rng));
  norm = register_module("norm", std::move(n));
  if (dropout > 0.0) drop = register_module("drop", std::make_shared<Dropout>(DropoutOptions{static_cast<float>(dropout)}, rng.fork_seed()));
}

Tensor MLPLayer::forward(const Tensor& x) {
  Tensor h = apply_activation(activation_, norm->forward(linear->forward(x)));
  return drop ? drop->forward(h) : h;
}

MLP::MLP(const MLPOptions& o, TaskKind task, const std::function<ModulePtr(int64_t)>& norm_factory,
         Rng& rng)
    : options_(o), task_(task) {
  if (o.input_norm != "none" && o.input_norm != "layernorm" && o.input_norm != "batchnorm")
    throw ValueError("MLP: input_norm must be none, layernorm or batchnorm, got '" + o.input_norm + "'");
  // Default options (eps 1e-5, affine, BN momentum 0.1); neither norm draws from rng, so the
  // other parameters are the same with and without it.
  if (o.input_norm != "none")
    input_norm = register_module(
        "input_norm", make_layer(json{{"type", o.input_norm}}, LayerArgs{o.in_features, &rng}, "input_norm"));
  hidden = register_module("hidden", std::make_shared<ModuleList<MLPLayer>>());
  int64_t width = o.in_features;
  for (int64_t h : o.hidden) {
    hidden->push_back(std::make_shared<MLPLayer>(width, h, norm_factory(h), o.activation, o.dropout, rng));
    width = h;
  }
  head = register_module("head", std::make_shared<Linear>(LinearOptions{width, o.out_features, true}, rng));
}

std::string MLP::extra_repr() const {
  std::string s = std::to_string(options_.in_features);
  if (input_norm) s += " (" + options_.input_norm + ")";
  for (int64_t h : options_.hidden) s += "-" + std::to_string(h);
  return s + "-" + std::to_string(options_.out_features);
}

Tensor MLP::forward(const Tensor& x) {
  if (!x.defined() || x.dim() != 2 || x.size(1) != options_.in_features)
    throw ShapeError("MLP: input " + (x.defined() ? shape_str(x.shape()) : std::string("undefined")) +
                     " must be (B," + std::to_string(options_.in_features) + ")");
  Tensor h = input_norm ? input_norm->forward(x) : x;
  for (const auto& layer : *hidden) h = layer->forward(h);
  Tensor out = head->forward(h);
  return task_ == TaskKind::regression ? reshape(out, {x.size(0)}) : out;
}

Tensor MLP::forward_batch(const Batch& batch) {
  const Tensor& x = batch.inputs;
  if (x.defined() && x.dim() == 3) return forward(reshape(x, {x.size(0), x.size(1) * x.size(2)}));
  return forward(x);
}

std::shared_ptr<Model> make_mlp(ConfigReader& cfg, const ModelArgs& args) {
  const DatasetInfo& info = args.info;
  MLPOptions o;
  o.hidden = cfg.get_int_list("hidden", o.hidden, "hidden layer widths, bottom to top (may be empty)");
  o.activation = cfg.get_string("activation", o.activation, "activation after each hidden norm",
                                activation_names());
  o.dropout = cfg.get_number("dropout", o.dropout, "dropout after each hidden activation", 0.0, 0.99);
  o.input_norm = cfg.get_string(
      "input_norm", o.input_norm,
      "a norm over the raw input features before the first Linear (default eps, affine)",
      {"none", "layernorm", "batchnorm"});
  if (info.vocab_size > 0)
    throw ConfigError("'" + cfg.full_key("type") + "': mlp takes real-valued features, but the "
                      "data is token ids (vocab_size " + std::to_string(info.vocab_size) +
                      "); use rnn_classifier or transformer_classifier");
  // Sequences of fixed length are flattened: (B,T,F) -> (B,T*F).
  o.in_features = info.sequential ? info.max_length * info.feature_dim : info.feature_dim;
  if (o.in_features < 1) throw ValueError("mlp: the dataset reports no input width");
  o.out_features = head_width(info, cfg, "mlp");
  Rng& rng = model_rng(args, "mlp");
  ConfigReader norm_cfg = cfg.sub("norm", norm_doc());
  auto norm_factory = [&](int64_t width) { return make_norm(norm_cfg, width, rng, "none"); };
  return apply_batchnorm_sync(cfg, std::make_shared<MLP>(o, info.task, norm_factory, rng));
}

}  // namespace nl
