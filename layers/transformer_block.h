// A transformer encoder block (Vaswani et al. 2017) with a pluggable norm and its placement:
//   pre  (Xiong et al. 2020): h = x + drop(attn(norm1(x)));  y = h + drop(ff(norm2(h)))
//   post (the original):      h = norm1(x + drop(attn(x)));  y = norm2(h + drop(ff(h)))
// ff(z) = W2 drop(gelu(W1 z + b1)) + b2 with GELU in its exact erf form. The norm is any
// registered norm layer ("none", "layernorm", "batchnorm", "rmsnorm", ...); the key-padding
// mask goes to it through forward_masked, so BatchNorm takes its statistics over the
// non-padded (B*T) positions only.
#pragma once
#include <string>

#include "core/config_reader.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "layers/attention.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct TransformerBlockOptions {
  int64_t d_model = 0;
  int64_t heads = 4;
  int64_t ff = 0;                       // feed-forward width; 0 = 4 * d_model
  double dropout = 0.0;                 // on the residual branches and inside the feed-forward
  double attn_dropout = 0.0;            // on the attention weights
  std::string placement = "pre";        // "pre" | "post"
  json norm = {{"type", "layernorm"}};  // a layer spec for make_layer (features = d_model)
  bool causal = false;
  bool bias = true;
};

class TransformerBlock : public Module {
 public:
  // norm1/norm2 may be given ready-built (the registry factory does, to share its config
  // reader); otherwise they are built from options.norm.
  TransformerBlock(const TransformerBlockOptions& options, Rng& rng, ModulePtr norm1 = nullptr,
                   ModulePtr norm2 = nullptr);

  // x: (B,T,d); key_padding_mask: (B,T) nonzero = real token, or undefined -> (B,T,d).
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask, bool causal);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor(), options_.causal); }
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override {
    return forward(x, mask, options_.causal);
  }

  std::string type_name() const override { return "TransformerBlock"; }
  std::string extra_repr() const override;
  const TransformerBlockOptions& options() const { return options_; }

  std::shared_ptr<MultiheadAttention> attn;
  ModulePtr norm1, norm2, ff1, ff2, drop;  // drop is null when dropout == 0

 private:
  Tensor norm(const ModulePtr& n, const Tensor& x, const Tensor& mask) const;
  Tensor maybe_drop(const Tensor& x) const;

  TransformerBlockOptions options_;
};

// Registry factory: {"type": "transformer_block", "heads": 4, "ff": 512, "dropout": 0.1,
// "attn_dropout": 0.0, "placement": "pre", "norm": {"type": "layernorm"}, "causal": false,
// "bias": true}; d_model defaults to args.features.
ModulePtr make_transformer_block(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
