// TransformerStack: the body both transformer models share —
//   inputs -> token embedding (or Linear for real features) + learned positions -> dropout
//   -> N transformer blocks (pre- or post-norm, pluggable norm, key-padding mask, optional
//   causal mask) -> final norm -> (B,T,d).
// The norm layers (two per block + the final one) are built from the model's "norm" object,
// so {"norm": {"type": "batchnorm"}} flips every LN to BN; with a padding mask BatchNorm
// takes its statistics over the valid positions only.
#pragma once
#include <functional>
#include <string>

#include "layers/transformer_block.h"
#include "models/model.h"
#include "models/module_list.h"
#include "models/sequence_input.h"

namespace nl {

struct TransformerStackOptions {
  int64_t d_model = 64;
  int64_t heads = 4;
  int64_t layers = 2;
  int64_t ff = 0;  // 0 = 4 * d_model
  int64_t max_len = 0;
  double dropout = 0.0;
  double attn_dropout = 0.0;
  std::string placement = "pre";
  bool final_norm = true;
};

// The base of the transformer models: they add their head (and forward_batch) on top, so
// parameter names read "blocks.0.norm1.weight", "norm.weight", "head.weight".
class TransformerStack : public Model {
 public:
  // norm_factory builds one norm layer of width d_model (called 2 * layers + 1 times).
  TransformerStack(const DatasetInfo& info, const TransformerStackOptions& options,
                   const std::function<ModulePtr()>& norm_factory, Rng& rng);

  // inputs: (B,T) ids or (B,T,F) features; mask: (B,T) nonzero = real token, or undefined.
  // -> (B,T,d_model).
  Tensor encode(const Tensor& inputs, const Tensor& mask, bool causal);
  const TransformerStackOptions& options() const { return options_; }

  std::shared_ptr<SequenceInput> input;
  ModulePtr pos, drop;  // drop is null when dropout == 0
  std::shared_ptr<ModuleList<TransformerBlock>> blocks;
  ModulePtr norm;  // the final norm ("none" when final_norm is off)

 private:
  TransformerStackOptions options_;
};

// Reads the stack's keys from the model object (d_model, heads, layers, ff, max_len,
// dropout, attn_dropout, placement, final_norm; not "norm") into options.
TransformerStackOptions read_transformer_options(ConfigReader& cfg, const DatasetInfo& info);
// A norm factory over the model's "norm" object (default type layernorm). `norm_cfg` must
// outlive the factory's uses.
std::function<ModulePtr()> transformer_norm_factory(ConfigReader& norm_cfg, int64_t d_model, Rng& rng);

}  // namespace nl
