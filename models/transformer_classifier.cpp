// The transformer sequence classifier (see transformer_classifier.h).
#include "models/transformer_classifier.h"

#include "core/error.h"
#include "layers/dropout.h"
#include "layers/linear.h"
#include "models/model_util.h"
#include "models/pooling.h"

namespace nl {

TransformerClassifier::TransformerClassifier(const DatasetInfo& info, const TransformerStackOptions& o,
                                             const std::function<ModulePtr()>& norm_factory,
                                             int64_t head_out, Rng& rng)
    : TransformerStack(info, o, norm_factory, rng) {
  if (o.dropout > 0.0) head_drop = register_module("head_drop", std::make_shared<Dropout>(DropoutOptions{static_cast<float>(o.dropout)}, rng.fork_seed()));
  head = register_module("head", std::make_shared<Linear>(LinearOptions{o.d_model, head_out, true}, rng));
}

Tensor TransformerClassifier::forward_batch(const Batch& batch) {
  Tensor pooled = masked_mean(encode(batch.inputs, batch.mask, false), batch.mask);  // (B,d)
  if (head_drop) pooled = head_drop->forward(pooled);
  return head->forward(pooled);
}

std::shared_ptr<Model> make_transformer_classifier(ConfigReader& cfg, const ModelArgs& args) {
  const int64_t classes = head_width(args.info, cfg, "transformer_classifier");
  if (args.info.task != TaskKind::classification)
    throw ConfigError("'" + cfg.full_key("type") + "': transformer_classifier needs a "
                      "classification dataset");
  Rng& rng = model_rng(args, "transformer_classifier");
  const TransformerStackOptions o = read_transformer_options(cfg, args.info);
  ConfigReader norm_cfg = cfg.sub("norm", norm_doc());
  return apply_batchnorm_sync(
      cfg, std::make_shared<TransformerClassifier>(
               args.info, o, transformer_norm_factory(norm_cfg, o.d_model, rng), classes, rng));
}

}  // namespace nl
