// Transformer encoder block with pre/post norm placement; see transformer_block.h.
#include "layers/transformer_block.h"

#include "core/error.h"
#include "core/ops.h"
#include "layers/dropout.h"
#include "layers/linear.h"

namespace nl {

TransformerBlock::TransformerBlock(const TransformerBlockOptions& o, Rng& rng, ModulePtr n1,
                                   ModulePtr n2)
    : options_(o) {
  if (o.placement != "pre" && o.placement != "post")
    throw ValueError("TransformerBlock: placement must be 'pre' or 'post', got '" + o.placement +
                     "'");
  if (options_.ff == 0) options_.ff = 4 * o.d_model;
  if (options_.ff < 1) throw ValueError("TransformerBlock: ff must be positive");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    throw ValueError("TransformerBlock: dropout must be in [0, 1), got " +
                     std::to_string(o.dropout));
  AttentionOptions ao;
  ao.d_model = o.d_model;
  ao.heads = o.heads;
  ao.dropout = o.attn_dropout;
  ao.bias = o.bias;
  ao.causal = o.causal;
  attn = register_module("attn", std::make_shared<MultiheadAttention>(ao, rng));
  const LayerArgs norm_args{o.d_model, &rng};
  norm1 = register_module("norm1", n1 ? n1 : make_layer(o.norm, norm_args, "norm"));
  ff1 = register_module(
      "ff1", std::make_shared<Linear>(LinearOptions{o.d_model, options_.ff, o.bias}, rng));
  ff2 = register_module(
      "ff2", std::make_shared<Linear>(LinearOptions{options_.ff, o.d_model, o.bias}, rng));
  norm2 = register_module("norm2", n2 ? n2 : make_layer(o.norm, norm_args, "norm"));
  if (o.dropout > 0.0)
    drop = register_module(
        "drop",
        std::make_shared<Dropout>(DropoutOptions{static_cast<float>(o.dropout)}, rng.fork_seed()));
}

std::string TransformerBlock::extra_repr() const {
  return "d_model=" + std::to_string(options_.d_model) + ", ff=" + std::to_string(options_.ff) +
         ", " + options_.placement + "-norm";
}

Tensor TransformerBlock::norm(const ModulePtr& n, const Tensor& x, const Tensor& mask) const {
  return mask.defined() ? n->forward_masked(x, mask) : n->forward(x);
}

Tensor TransformerBlock::maybe_drop(const Tensor& x) const { return drop ? drop->forward(x) : x; }

Tensor TransformerBlock::forward(const Tensor& x, const Tensor& mask, bool causal) {
  if (!x.defined() || x.dim() != 3 || x.size(2) != options_.d_model)
    throw ShapeError("TransformerBlock: input " +
                     (x.defined() ? shape_str(x.shape()) : "undefined") + " must be (B,T," +
                     std::to_string(options_.d_model) + ")");
  auto ff = [&](const Tensor& z) {
    return maybe_drop(ff2->forward(maybe_drop(gelu(ff1->forward(z)))));
  };
  if (options_.placement == "pre") {
    Tensor h = add(x, maybe_drop(attn->forward(norm(norm1, x, mask), mask, causal)));
    return add(h, ff(norm(norm2, h, mask)));
  }
  Tensor h = norm(norm1, add(x, maybe_drop(attn->forward(x, mask, causal))), mask);
  return norm(norm2, add(h, ff(h)), mask);
}

ModulePtr make_transformer_block(ConfigReader& cfg, const LayerArgs& args) {
  TransformerBlockOptions o;
  o.d_model = cfg.get_int("d_model", args.features,
                          "model width d (default: the width of the layer below)", 1);
  o.heads = cfg.get_int("heads", 4, "attention heads (d_model must be divisible by it)", 1, 4096);
  o.ff = cfg.get_int("ff", 0, "feed-forward width (0 = 4 * d_model)", 0, 1 << 20);
  o.dropout = cfg.get_number("dropout", 0.0,
                             "dropout on the residual branches and in the "
                             "feed-forward",
                             0.0, 0.99);
  o.attn_dropout =
      cfg.get_number("attn_dropout", 0.0, "dropout on the attention weights", 0.0, 0.99);
  o.placement = cfg.get_string("placement", "pre",
                               "norm before (pre) or after (post) each "
                               "residual add",
                               {"pre", "post"});
  o.causal = cfg.get_bool("causal", false, "mask future positions (language models)");
  o.bias = cfg.get_bool("bias", true, "biases in the attention and feed-forward projections");
  if (o.d_model < 1) cfg.fail("d_model", "unknown model width: set d_model");
  if (o.d_model % o.heads != 0)
    cfg.fail("heads",
             std::to_string(o.heads) + " does not divide d_model = " + std::to_string(o.d_model));
  if (!args.rng) throw ValueError("transformer_block: the layer needs an Rng for its weights");
  // Both norms from the same "norm" object, read through this reader so its keys are
  // validated and documented with the rest of the config.
  const LayerArgs norm_args{o.d_model, args.rng};
  ConfigReader n1 = cfg.sub("norm",
                            "the norm layer: {\"type\": \"layernorm\" | \"batchnorm\" | "
                            "\"rmsnorm\" | \"none\", ...its options}");
  ModulePtr norm1 = layer_registry().create(n1, norm_args, "layernorm");
  ConfigReader n2 = cfg.sub("norm", "");
  ModulePtr norm2 = layer_registry().create(n2, norm_args, "layernorm");
  return std::make_shared<TransformerBlock>(o, *args.rng, norm1, norm2);
}

}  // namespace nl
