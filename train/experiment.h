// An experiment: everything a training run is built from, made from one config through the
// registries — seed, data (make_dataset), model (make_model), optimizer (make_optimizer) and
// the train options. Building validates the whole config (unknown keys, types, ranges) before
// any training starts; errors are ConfigErrors naming the key.
#pragma once
#include <cstdint>
#include <memory>

#include "core/config_reader.h"
#include "data/dataset.h"
#include "models/model.h"
#include "optim/factory.h"
#include "train/train_options.h"

namespace nl {

struct Experiment {
  json config;  // the effective config: the user's values with every default filled in
  uint64_t seed = 0;
  TrainOptions train;
  std::shared_ptr<DataSplits> data;
  std::shared_ptr<Model> model;
  std::unique_ptr<Optimizer> optim;
  LrSchedule schedule;      // the lr of each step (a pure function of the step index)
  int64_t total_steps = 0;  // train.steps, or train.epochs x batches per epoch
};

// Builds from a config object (sections seed, data, model, train, optim).
Experiment build_experiment(const json& config);
// The same through a caller's reader (its docs() then list every key that was read, also
// when building fails part way).
Experiment build_experiment(ConfigReader& root);

// Reads a config file and applies `--set key=value` overrides (JSON file < --set).
json load_config_with_overrides(const std::string& path, const std::vector<std::string>& overrides);

}  // namespace nl
