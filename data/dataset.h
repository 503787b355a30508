// Datasets: the examples of one split (train, val or test) in compact storage, the three splits
// of a data source with their DatasetInfo, and the registry that builds a source by type name
// from the config's "data" section (data/registry.cpp, one line per dataset type).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/config_reader.h"
#include "data/batch.h"
#include "data/loader_options.h"
#include "core/registry.h"

namespace nl {

// One split's examples. Example i is a sequence of length(i) steps of step_dim() values each
// (token data: step_dim 1, the value is the token id; flat data: length 1, step_dim features)
// plus its target: one value (class id or real number) or, for language models, one
// next-token id per step. All examples live in a few flat vectors (no per-example heap).
class Dataset {
 public:
  Dataset() = default;
  Dataset(int64_t step_dim, bool per_step_targets)
      : step_dim_(step_dim), per_step_targets_(per_step_targets) {}

  // Appends an example; `steps` holds length * step_dim values.
  void add(const float* steps, int64_t length, float target);
  // Appends a language-model example: `targets` holds `length` next-token ids.
  void add_sequence(const float* steps, int64_t length, const float* targets);
  void reserve(int64_t examples, int64_t total_steps);

  int64_t size() const { return static_cast<int64_t>(offsets_.size()) - 1; }
  bool empty() const { return size() == 0; }
  int64_t step_dim() const { return step_dim_; }
  bool per_step_targets() const { return per_step_targets_; }
  int64_t length(int64_t i) const { return offsets_[i + 1] - offsets_[i]; }
  int64_t max_length() const { return max_length_; }
  int64_t total_steps() const { return offsets_.back(); }
  // length(i) * step_dim() values.
  const float* steps(int64_t i) const { return values_.data() + offsets_[i] * step_dim_; }
  // Classification / regression target.
  float target(int64_t i) const { return targets_[i]; }
  // Language models: length(i) next-token ids.
  const float* step_targets(int64_t i) const { return targets_.data() + offsets_[i]; }

  // Every stored value (for dataset-wide statistics and in-place rescaling).
  std::vector<float>& values() { return values_; }
  const std::vector<float>& values() const { return values_; }

 private:
  int64_t step_dim_ = 1;
  bool per_step_targets_ = false;
  int64_t max_length_ = 0;
  std::vector<float> values_;           // all steps, concatenated
  std::vector<int64_t> offsets_{0};     // example i spans steps [offsets_[i], offsets_[i+1])
  std::vector<float> targets_;          // one per example, or one per step (LM)
};

// What make_dataset returns: the three splits and their description.
struct DataSplits {
  DatasetInfo info;
  Dataset train, val, test;
  LoaderOptions loader;  // from "data.loader"; batch_size is the trainer's to set
  const Dataset& split(const std::string& name) const;  // "train" | "val" | "test"
};

// Arguments every dataset factory gets besides its config section.
struct DatasetArgs {
  uint64_t seed = 0;  // the run seed; synthetic data derives its streams from it
};

using DatasetRegistry = Registry<DataSplits, DatasetArgs>;
// The dataset registry, filled by data/registry.cpp on first use.
DatasetRegistry& dataset_registry();

// Builds the data source described by `cfg` (the config's "data" section): reads "type",
// the type's keys and the "loader" sub-section, and checks for unknown keys.
// DatasetInfo::max_length is filled in here.
std::shared_ptr<DataSplits> make_dataset(ConfigReader& cfg, uint64_t seed);

// A seed for one named stream of a run (e.g. "adding/train"), so each split's content does
// not depend on the sizes of the others. splitmix64 of the seed mixed with a string hash.
uint64_t derive_seed(uint64_t seed, const std::string& stream);
// FNV-1a 64-bit hash of a byte string (stable across runs and machines).
uint64_t fnv1a64(std::string_view bytes, uint64_t basis = 1469598103934665603ull);

// Sets info.max_length from the three splits.
void finish_info(DataSplits& s);

}  // namespace nl
