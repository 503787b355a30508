// The dataset factories that data/registry.cpp registers (one per dataset type), and the
// small helpers they share. Each reads its keys from the "data" section.
#pragma once
#include <memory>
#include <vector>

#include "data/dataset.h"

namespace nl {

// Synthetic (generated from the run seed).
std::shared_ptr<DataSplits> make_adding_dataset(ConfigReader& cfg, const DatasetArgs& args);
std::shared_ptr<DataSplits> make_sequence_class_dataset(ConfigReader& cfg, const DatasetArgs& args);
std::shared_ptr<DataSplits> make_pattern_lm_dataset(ConfigReader& cfg, const DatasetArgs& args);
// Real data from Debian packages.
std::shared_ptr<DataSplits> make_fashion_mnist_dataset(ConfigReader& cfg, const DatasetArgs& args);
std::shared_ptr<DataSplits> make_words_dataset(ConfigReader& cfg, const DatasetArgs& args);
std::shared_ptr<DataSplits> make_text_dataset(ConfigReader& cfg, const DatasetArgs& args);
// Fashion-MNIST's per-feature scales for feature_scale_spread s: 10^(s*(u_j-0.5)), u_j =
// π(j)/(F-1) for a permutation π from a fixed seed (see fashion_mnist.cpp).
std::vector<float> fashion_feature_scales(int64_t features, double spread);

// Number of examples per split of a synthetic dataset (keys train_size, val_size, test_size).
struct SplitSizes {
  int64_t train, val, test;
};
SplitSizes read_split_sizes(ConfigReader& cfg, const SplitSizes& defaults);

// A [min, max] length pair read as `<prefix>min_length` / `<prefix>max_length`, checked
// min <= max.
struct LengthRange {
  int64_t min, max;
};
LengthRange read_length_range(ConfigReader& cfg, const std::string& prefix, const LengthRange& def,
                              int64_t lowest, const std::string& what);

}  // namespace nl
