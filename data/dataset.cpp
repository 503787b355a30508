// Dataset storage, split lookup, seed derivation and make_dataset.
#include "data/dataset.h"

#include <algorithm>

#include "core/error.h"
#include "data/datasets.h"

namespace nl {

void Dataset::add(const float* steps, int64_t length, float target) {
  if (per_step_targets_) throw ValueError("Dataset::add: this dataset needs per-step targets");
  if (length < 1) throw ValueError("Dataset::add: an example needs at least one step");
  values_.insert(values_.end(), steps, steps + length * step_dim_);
  offsets_.push_back(offsets_.back() + length);
  targets_.push_back(target);
  max_length_ = std::max(max_length_, length);
}

void Dataset::add_sequence(const float* steps, int64_t length, const float* targets) {
  if (!per_step_targets_) throw ValueError("Dataset::add_sequence: this dataset has one target per example");
  if (length < 1) throw ValueError("Dataset::add_sequence: an example needs at least one step");
  values_.insert(values_.end(), steps, steps + length * step_dim_);
  offsets_.push_back(offsets_.back() + length);
  targets_.insert(targets_.end(), targets, targets + length);
  max_length_ = std::max(max_length_, length);
}

void Dataset::reserve(int64_t examples, int64_t total_steps) {
  values_.reserve(static_cast<size_t>(total_steps * step_dim_));
  offsets_.reserve(static_cast<size_t>(examples + 1));
  targets_.reserve(static_cast<size_t>(per_step_targets_ ? total_steps : examples));
}

const Dataset& DataSplits::split(const std::string& name) const {
  if (name == "train") return train;
  if (name == "val") return val;
  if (name == "test") return test;
  throw ValueError("unknown split '" + name + "' (expected train, val or test)");
}

uint64_t fnv1a64(std::string_view bytes, uint64_t basis) {
  uint64_t h = basis;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t derive_seed(uint64_t seed, const std::string& stream) {
  // splitmix64 finaliser over the mix of both (Steele et al. 2014).
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (fnv1a64(stream) | 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void finish_info(DataSplits& s) {
  s.info.max_length =
      std::max({s.train.max_length(), s.val.max_length(), s.test.max_length()});
  if (!s.info.sequential) s.info.max_length = 1;
}

std::shared_ptr<DataSplits> make_dataset(ConfigReader& cfg, uint64_t seed) {
  DatasetArgs args;
  args.seed = seed;
  ConfigReader loader_cfg = cfg.sub("loader", "how batches are cut (see data/loader_options.h)");
  const LoaderOptions loader = read_loader_options(loader_cfg);
  auto splits = dataset_registry().create(cfg, args, "adding");
  splits->loader = loader;
  finish_info(*splits);
  return splits;
}

}  // namespace nl

// ---- helpers shared by the dataset factories (declared in data/datasets.h) ------------------
namespace nl {

SplitSizes read_split_sizes(ConfigReader& cfg, const SplitSizes& def) {
  constexpr int64_t kMax = 10'000'000;
  SplitSizes s;
  s.train = cfg.get_int("train_size", def.train, "number of training examples", 1, kMax);
  s.val = cfg.get_int("val_size", def.val, "number of validation examples", 1, kMax);
  s.test = cfg.get_int("test_size", def.test, "number of test examples", 1, kMax);
  return s;
}

LengthRange read_length_range(ConfigReader& cfg, const std::string& prefix, const LengthRange& def,
                              int64_t lowest, const std::string& what) {
  constexpr int64_t kMax = 100'000;
  LengthRange r;
  r.min = cfg.get_int(prefix + "min_length", def.min, "shortest " + what, lowest, kMax);
  r.max = cfg.get_int(prefix + "max_length", def.max, "longest " + what, lowest, kMax);
  if (r.min > r.max)
    cfg.fail(prefix + "min_length", "value " + std::to_string(r.min) + " is larger than " +
                                        prefix + "max_length " + std::to_string(r.max));
  return r;
}

}  // namespace nl
