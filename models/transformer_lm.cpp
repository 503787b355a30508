// The causal transformer language model (see transformer_lm.h).
#include "models/transformer_lm.h"

#include "core/error.h"
#include "layers/linear.h"
#include "models/model_util.h"

namespace nl {

TransformerLM::TransformerLM(const DatasetInfo& info, const TransformerStackOptions& o,
                             const std::function<ModulePtr()>& norm_factory, int64_t vocab_size, Rng& rng)
    : TransformerStack(info, o, norm_factory, rng) {
  head = register_module("head", std::make_shared<Linear>(LinearOptions{o.d_model, vocab_size, true}, rng));
}

Tensor TransformerLM::forward_batch(const Batch& batch) {
  return head->forward(encode(batch.inputs, batch.mask, true));
}

Tensor TransformerLM::forward(const Tensor& ids) { return head->forward(encode(ids, Tensor(), true)); }

std::shared_ptr<Model> make_transformer_lm(ConfigReader& cfg, const ModelArgs& args) {
  const DatasetInfo& info = args.info;
  if (info.task != TaskKind::language_model || info.vocab_size < 1)
    throw ConfigError("'" + cfg.full_key("type") + "': transformer_lm needs a language-model "
                      "dataset of token ids (got task '" + task_name(info.task) + "', vocab_size " +
                      std::to_string(info.vocab_size) + ")");
  Rng& rng = model_rng(args, "transformer_lm");
  const TransformerStackOptions o = read_transformer_options(cfg, info);
  ConfigReader norm_cfg = cfg.sub("norm", norm_doc());
  return apply_batchnorm_sync(
      cfg, std::make_shared<TransformerLM>(info, o, transformer_norm_factory(norm_cfg, o.d_model, rng),
                                           info.vocab_size, rng));
}

}  // namespace nl
