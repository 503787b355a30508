// Helpers shared by the model factories (see model_util.h).
#include "models/model_util.h"

#include "core/error.h"
#include "core/ops.h"
#include "layers/batchnorm.h"
#include "layers/registry.h"

namespace nl {

const std::vector<std::string>& activation_names() {
  static const std::vector<std::string> names = {"relu", "gelu", "tanh"};
  return names;
}

Tensor apply_activation(const std::string& name, const Tensor& x) {
  if (name == "relu") return relu(x);
  if (name == "gelu") return gelu(x);
  if (name == "tanh") return tanh(x);
  throw ValueError("unknown activation '" + name + "'");
}

int64_t head_width(const DatasetInfo& info, const ConfigReader& cfg, const std::string& model) {
  switch (info.task) {
    case TaskKind::classification:
      if (info.num_classes < 2)
        throw ValueError(model + ": a classification dataset must report num_classes >= 2, got " +
                         std::to_string(info.num_classes));
      return info.num_classes;
    case TaskKind::regression:
      return 1;
    case TaskKind::language_model:
      break;
  }
  throw ConfigError("'" + cfg.full_key("type") + "': " + model + " cannot model a '" +
                    task_name(info.task) + "' dataset; use transformer_lm");
}

Rng& model_rng(const ModelArgs& args, const std::string& model) {
  if (!args.rng) throw ValueError(model + ": ModelArgs.rng is needed to initialise the weights");
  return *args.rng;
}

ModulePtr make_norm(ConfigReader& norm_cfg, int64_t width, Rng& rng, const std::string& default_type) {
  return layer_registry().create(norm_cfg, LayerArgs{width, &rng}, default_type);
}

std::string norm_doc() {
  return "the norm layer: {\"type\": \"layernorm\" | \"batchnorm\" | \"rmsnorm\" | \"none\", "
         "...its options (eps, momentum, ...)}";
}

std::shared_ptr<Model> apply_batchnorm_sync(ConfigReader& cfg, std::shared_ptr<Model> model) {
  const bool sync = cfg.get_bool(
      "batchnorm_sync", false,
      "BatchNorm statistics under mpirun: false = each rank's own rows (local BN); true = the "
      "rows of every rank (SyncBatchNorm, docs/distributed.md). No effect in a single process");
  set_batchnorm_sync(*model, sync);
  return model;
}

Tensor apply_norm(const ModulePtr& norm, const Tensor& x, const Tensor& mask) {
  return mask.defined() ? norm->forward_masked(x, mask) : norm->forward(x);
}

}  // namespace nl
