// SequenceInput: turns a batch's inputs into (B,T,C) features for the sequence models —
// a token embedding for token data (DatasetInfo.vocab_size > 0), or for real features
// either the features themselves or a linear projection to `width`.
#pragma once
#include <memory>

#include "core/rng.h"
#include "data/batch.h"
#include "layers/module.h"

namespace nl {

class SequenceInput : public Module {
 public:
  // width: the output width C. Tokens: required (> 0). Real features: 0 = pass the
  // features through unchanged (C = feature_dim), > 0 = Linear(feature_dim -> width).
  SequenceInput(const DatasetInfo& info, int64_t width, Rng& rng);

  // inputs: (B,T) token ids or (B,T,F) features -> (B,T,C).
  Tensor forward(const Tensor& inputs) override;

  int64_t out_features() const { return out_features_; }
  std::string type_name() const override { return "SequenceInput"; }
  std::string extra_repr() const override;

 private:
  bool tokens_;
  int64_t vocab_size_, in_features_, out_features_;
  ModulePtr embed_, proj_;  // one of them, or neither (pass-through)
};

}  // namespace nl
