// TransformerClassifier: TransformerStack (embedding + positions, N blocks with key-padding
// mask, final norm) -> masked mean over the valid positions -> dropout -> Linear head
// -> (B, classes). Padding never changes the output: padded keys get zero attention weight,
// BatchNorm sees only valid positions, and the mean skips padded steps.
#pragma once
#include "models/model.h"
#include "models/transformer_stack.h"

namespace nl {

class TransformerClassifier : public TransformerStack {
 public:
  TransformerClassifier(const DatasetInfo& info, const TransformerStackOptions& options,
      const std::function<ModulePtr()>& norm_factory, int64_t head_out, Rng& rng);

  Tensor forward_batch(const Batch& batch) override;  // -> (B, head_out)
  std::string type_name() const override { return "TransformerClassifier"; }

  ModulePtr head_drop, head;  // head_drop is null when dropout == 0
};

std::shared_ptr<Model> make_transformer_classifier(ConfigReader& cfg, const ModelArgs& args);

}  // namespace nl
