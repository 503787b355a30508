// Building an experiment from a config (see train/experiment.h).
#include "train/experiment.h"

#include "core/error.h"
#include "core/memory_guard.h"
#include "data/dataset.h"
#include "data/loader.h"

namespace nl {

namespace {

// The size key most likely behind a model too large to build: the largest integer (or list
// element) under `node`, as a dotted key. Empty when there is none.
void largest_int(const json& node, const std::string& key, std::string* best_key, int64_t* best) {
  if (node.is_object()) {
    for (auto it = node.begin(); it != node.end(); ++it)
      largest_int(it.value(), key.empty() ? it.key() : key + "." + it.key(), best_key, best);
  } else if (node.is_array()) {
    for (const json& v : node) largest_int(v, key, best_key, best);
  } else if (node.is_number_integer() && node.get<int64_t>() > *best) {
    *best = node.get<int64_t>();
    *best_key = key;
  }
}

// Builds the model, refusing one that needs more memory than the machine has: its buffers may
// take at most half the physical memory (training needs at least as much again for the
// gradients). A buffer past the budget is refused before it is allocated; the error is a
// ConfigError naming the largest size key, the estimated size and the machine's memory.
std::shared_ptr<Model> make_model_within_memory(ConfigReader& root, ConfigReader& model_cfg,
                                                const ModelArgs& margs) {
  const uint64_t phys = physical_memory_bytes();
  MemoryBudget budget(phys ? phys / 2 : UINT64_MAX);
  try {
    return make_model(model_cfg, margs);
  } catch (const MemoryError& e) {
    std::string key;
    int64_t value = 0;
    if (root.effective().contains("model")) largest_int(root.effective()["model"], "model", &key, &value);
    const std::string what = "the model's parameters need at least " + format_bytes(e.requested) +
                             ", twice that with their gradients: more than this machine's " +
                             format_bytes(phys) + " of memory";
    if (key.empty()) throw ConfigError("model: " + what);
    throw ConfigError("'" + key + "' = " + std::to_string(value) + ": " + what);
  }
}

}  // namespace

Experiment build_experiment(const json& config) {
  ConfigReader root(config, "");
  return build_experiment(root);
}

Experiment build_experiment(ConfigReader& root) {
  Experiment ex;
  ex.seed = static_cast<uint64_t>(root.get_int(
      "seed", 0, "the run's seed: data generation, shuffling, initialisation, dropout", 0,
      std::numeric_limits<int64_t>::max()));

  ConfigReader data_cfg = root.sub("data", "the dataset and how batches are cut");
  ex.data = make_dataset(data_cfg, ex.seed);

  ConfigReader model_cfg = root.sub("model", "the model (one of the model registry's types)");
  Rng init_rng(derive_seed(ex.seed, "model/init"));
  ModelArgs margs;
  margs.info = ex.data->info;
  margs.rng = &init_rng;
  ex.model = make_model_within_memory(root, model_cfg, margs);

  ConfigReader train_cfg = root.sub("train", "the training loop: length, batch size, intervals");
  ex.train = read_train_options(train_cfg);
  ex.data->loader.batch_size = ex.train.batch_size;
  // The step count of an epoch-based run needs the loader's batches per epoch.
  ex.total_steps = ex.train.epochs > 0
                       ? ex.train.total_steps(DataLoader(ex.data->train, ex.data->info, ex.data->loader, ex.seed)
                                                  .batches_per_epoch())
                       : ex.train.steps;

  ConfigReader optim_cfg = root.sub("optim", "the optimizer, learning-rate schedule and gradient clipping");
  OptimSetup opt = make_optim_setup(optim_cfg, ex.model->named_parameters(), ex.total_steps);
  ex.optim = std::move(opt.optimizer);
  ex.schedule = opt.schedule;
  root.finish();
  ex.config = root.effective();
  return ex;
}

json load_config_with_overrides(const std::string& path, const std::vector<std::string>& overrides) {
  json cfg = load_json_file(path);
  if (!cfg.is_object()) throw ConfigError("'" + path + "' must hold a JSON object");
  for (const std::string& o : overrides) apply_override(cfg, o);
  return cfg;
}

}  // namespace nl
