// TransformerLM: a causal language model — token embedding + learned positions, N causal
// transformer blocks, final norm, Linear vocab head -> (B,T,vocab) next-token logits.
// The logits at position t depend on tokens 0..t only.
#pragma once
#include "models/model.h"
#include "models/transformer_stack.h"

namespace nl {

class TransformerLM : public TransformerStack {
 public:
  TransformerLM(const DatasetInfo& info, const TransformerStackOptions& options,
      const std::function<ModulePtr()>& norm_factory, int64_t vocab_size, Rng& rng);

  Tensor forward_batch(const Batch& batch) override;  // -> (B,T,V)
  Tensor forward(const Tensor& ids) override;          // ids (B,T) -> (B,T,V), no padding
  std::string type_name() const override { return "TransformerLM"; }

  ModulePtr head;
};

std::shared_ptr<Model> make_transformer_lm(ConfigReader& cfg, const ModelArgs& args);

}  // namespace nl
