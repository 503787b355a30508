// The shared transformer body (see transformer_stack.h).
#include "models/transformer_stack.h"

#include "core/error.h"
#include "core/ops.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/registry.h"
#include "models/model_util.h"

namespace nl {

TransformerStack::TransformerStack(const DatasetInfo& info, const TransformerStackOptions& o,
                                   const std::function<ModulePtr()>& norm_factory, Rng& rng)
    : options_(o) {
  if (o.max_len < 1) throw ValueError("TransformerStack: max_len must be >= 1");
  input = register_module("input", std::make_shared<SequenceInput>(info, o.d_model, rng));
  pos = register_module("pos", std::make_shared<Embedding>(EmbeddingOptions{o.max_len, o.d_model}, rng));
  if (o.dropout > 0.0) drop = register_module("drop", std::make_shared<Dropout>(DropoutOptions{static_cast<float>(o.dropout)}, rng.fork_seed()));
  blocks = register_module("blocks", std::make_shared<ModuleList<TransformerBlock>>());
  TransformerBlockOptions bo;
  bo.d_model = o.d_model;
  bo.heads = o.heads;
  bo.ff = o.ff;
  bo.dropout = o.dropout;
  bo.attn_dropout = o.attn_dropout;
  bo.placement = o.placement;
  for (int64_t i = 0; i < o.layers; ++i) {
    ModulePtr n1 = norm_factory(), n2 = norm_factory();
    blocks->push_back(std::make_shared<TransformerBlock>(bo, rng, n1, n2));
  }
  norm = register_module(
      "norm", o.final_norm ? norm_factory() : make_layer(json{{"type", "none"}}, LayerArgs{o.d_model, &rng}));
}

Tensor TransformerStack::encode(const Tensor& inputs, const Tensor& mask, bool causal) {
  Tensor x = input->forward(inputs);  // (B,T,d)
  const int64_t T = x.size(1);
  if (T > options_.max_len)
    throw ValueError("TransformerStack: sequence length " + std::to_string(T) +
                     " exceeds the positional table (max_len " + std::to_string(options_.max_len) +
                     "); raise model.max_len");
  if (mask.defined() && mask.shape() != Shape{x.size(0), T})
    throw ShapeError("TransformerStack: mask " + shape_str(mask.shape()) +
                     " does not match inputs " + shape_str(inputs.shape()));
  x = add(x, pos->forward(Tensor::arange(0.0f, static_cast<float>(T))));  // + (T,d) positions
  if (drop) x = drop->forward(x);
  for (const auto& block : *blocks) x = block->forward(x, mask, causal);
  return apply_norm(norm, x, mask);
}

TransformerStackOptions read_transformer_options(ConfigReader& cfg, const DatasetInfo& info) {
  TransformerStackOptions o;
  o.d_model = cfg.get_int("d_model", o.d_model, "model width d", 1, 1 << 16);
  o.heads = cfg.get_int("heads", o.heads, "attention heads (must divide d_model)", 1, 4096);
  o.layers = cfg.get_int("layers", o.layers, "number of transformer blocks", 0, 1024);
  o.ff = cfg.get_int("ff", o.ff, "feed-forward width (0 = 4 * d_model)", 0, 1 << 20);
  o.max_len = cfg.get_int("max_len", 0,
                          "positional table size (0 = the dataset's longest sequence)", 0, 1 << 20);
  o.dropout = cfg.get_number("dropout", o.dropout,
                             "dropout on the embeddings, residual branches and feed-forward", 0.0, 0.99);
  o.attn_dropout = cfg.get_number("attn_dropout", o.attn_dropout, "dropout on the attention weights", 0.0, 0.99);
  o.placement = cfg.get_string("placement", o.placement,
                               "norm before (pre) or after (post) each residual add", {"pre", "post"});
  o.final_norm = cfg.get_bool("final_norm", o.final_norm, "a norm after the last block");
  if (o.d_model % o.heads != 0)
    cfg.fail("heads", std::to_string(o.heads) + " does not divide d_model = " + std::to_string(o.d_model));
  if (o.max_len == 0) o.max_len = info.max_length;
  if (o.max_len < 1) cfg.fail("max_len", "the dataset reports no maximum length; set max_len");
  return o;
}

std::function<ModulePtr()> transformer_norm_factory(ConfigReader& norm_cfg, int64_t d_model, Rng& rng) {
  return [&norm_cfg, d_model, &rng] { return make_norm(norm_cfg, d_model, rng, "layernorm"); };
}

}  // namespace nl
