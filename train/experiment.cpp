// Building an experiment from a config (see train/experiment.h).
#include "train/experiment.h"

#include "core/error.h"
#include "data/dataset.h"
#include "data/loader.h"

namespace nl {

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
  ex.model = make_model(model_cfg, margs);

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
