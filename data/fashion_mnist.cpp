// Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from Debian's dataset-fashion-mnist: 28x28 grey
// images of 10 clothing classes, 60,000 training and 10,000 test images. Layout "flat" gives
// 784-feature examples for MLPs, "rows" 28 steps of 28 features for RNNs and transformers.
// Pixels are scaled to [0,1], then optionally standardised with the mean and standard
// deviation of the training subset's pixels. Validation images come from the end of the
// training file (deterministic); train_size / test_size take subsets to keep runs short.
// feature_scale_spread s > 0 (experiment C2, "does LN need features on a similar scale?")
// then multiplies feature j by 10^(s * (u_j - 0.5)): u_j = π(j) / (F - 1) for a permutation π
// of 0..F-1 drawn once from a fixed seed (not the run seed), so the scales are the same in
// every run and split, spread evenly in log scale, and largest / smallest = 10^s exactly.
// A feature is a pixel (flat, F = 784) or a column (rows, F = 28: the same scale at every row).
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "data/datasets.h"
#include "data/idx.h"

namespace nl {
namespace {

constexpr const char* kHint = "apt-get install dataset-fashion-mnist";
constexpr int64_t kSide = 28;

struct Images {
  IdxArray images, labels;
};

Images read_pair(const std::string& dir, const std::string& prefix, int64_t max_items) {
  const std::string img_path = dir + "/" + prefix + "-images-idx3-ubyte.gz";
  const std::string lab_path = dir + "/" + prefix + "-labels-idx1-ubyte.gz";
  Images p;
  p.images = read_idx(img_path, 2051, max_items, kHint);
  p.labels = read_idx(lab_path, 2049, max_items, kHint);
  if (p.images.dims.size() != 3 || p.images.dims[1] != kSide || p.images.dims[2] != kSide)
    throw DataError("IDX file '" + img_path + "': expected 28x28 images, got " +
                    std::to_string(p.images.dims.size() > 1 ? p.images.dims[1] : 0) + "x" +
                    std::to_string(p.images.dims.size() > 2 ? p.images.dims[2] : 0));
  if (p.images.dims[0] != p.labels.dims[0])
    throw DataError("IDX files '" + img_path + "' and '" + lab_path + "' disagree: " +
                    std::to_string(p.images.dims[0]) + " images but " +
                    std::to_string(p.labels.dims[0]) + " labels");
  for (int64_t i = 0; i < p.labels.items; ++i)
    if (p.labels.data[i] > 9)
      throw DataError("IDX file '" + lab_path + "': label " + std::to_string(p.labels.data[i]) +
                      " at item " + std::to_string(i) + " is not a class id 0..9");
  return p;
}

// Appends items [begin, end) of `p` to `out`, pixels scaled to [0,1].
void append(Dataset& out, const Images& p, int64_t begin, int64_t end, bool rows) {
  const int64_t px = kSide * kSide;
  out = rows ? Dataset(kSide, false) : Dataset(px, false);
  out.reserve(end - begin, (end - begin) * (rows ? kSide : 1));
  std::vector<float> x(static_cast<size_t>(px));
  for (int64_t i = begin; i < end; ++i) {
    const uint8_t* src = p.images.data.data() + i * px;
    for (int64_t j = 0; j < px; ++j) x[j] = static_cast<float>(src[j]) / 255.0f;
    out.add(x.data(), rows ? kSide : 1, static_cast<float>(p.labels.data[i]));
  }
}

}  // namespace

std::vector<float> fashion_feature_scales(int64_t features, double spread) {
  std::vector<int64_t> perm(static_cast<size_t>(features));
  std::iota(perm.begin(), perm.end(), 0);
  Rng rng(0x5ca1e5ca1eULL);  // fixed: the same scales whatever the run seed
  for (int64_t i = features - 1; i > 0; --i)
    std::swap(perm[i], perm[rng.randint(static_cast<uint64_t>(i + 1))]);
  std::vector<float> scale(static_cast<size_t>(features), 1.0f);
  if (features < 2) return scale;
  for (int64_t j = 0; j < features; ++j) {
    const double u = static_cast<double>(perm[j]) / static_cast<double>(features - 1);
    scale[j] = static_cast<float>(std::pow(10.0, spread * (u - 0.5)));
  }
  return scale;
}

std::shared_ptr<DataSplits> make_fashion_mnist_dataset(ConfigReader& cfg, const DatasetArgs&) {
  const std::string dir = cfg.get_string("dir", "/usr/share/datasets/fashion-mnist",
                                         "folder with the four IDX .gz files");
  const std::string layout = cfg.get_string(
      "layout", "flat", "flat: 784 features per example (MLP); rows: 28 steps x 28 features",
      {"flat", "rows"});
  const int64_t train_size = cfg.get_int(
      "train_size", 0, "training images, from the start of the training file (0 = all not in val)",
      0, 60000);
  const int64_t val_size = cfg.get_int(
      "val_size", 5000, "validation images, from the end of the training file", 1, 30000);
  const int64_t test_size = cfg.get_int("test_size", 0, "test images (0 = all 10,000)", 0, 10000);
  const bool standardize = cfg.get_bool(
      "standardize", true, "subtract the training pixels' mean and divide by their std");
  const double spread = cfg.get_number(
      "feature_scale_spread", 0.0,
      "0 = off; s > 0: after standardize, feature j (pixel, or column for rows) is multiplied by "
      "10^(s*(u_j-0.5)), u_j evenly spaced in [0,1] in a fixed random order: largest/smallest "
      "scale = 10^s",
      0.0, 8.0);
  const bool rows = layout == "rows";

  const Images train_file = read_pair(dir, "train", -1);
  const Images test_file = read_pair(dir, "t10k", test_size > 0 ? test_size : -1);
  const int64_t n = train_file.images.items;
  if (val_size >= n)
    cfg.fail("val_size", "value " + std::to_string(val_size) + " leaves no training images (the file has " +
                             std::to_string(n) + ")");
  const int64_t n_train = train_size > 0 ? train_size : n - val_size;
  if (n_train + val_size > n)
    cfg.fail("train_size", "train_size " + std::to_string(n_train) + " + val_size " +
                               std::to_string(val_size) + " exceeds the " + std::to_string(n) +
                               " training images");

  auto s = std::make_shared<DataSplits>();
  s->info.task = TaskKind::classification;
  s->info.num_classes = 10;
  s->info.vocab_size = 0;
  s->info.sequential = rows;
  s->info.feature_dim = rows ? kSide : kSide * kSide;
  s->info.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  append(s->train, train_file, 0, n_train, rows);
  append(s->val, train_file, n - val_size, n, rows);
  append(s->test, test_file, 0, test_file.images.items, rows);

  if (standardize) {
    // Two passes in double over the training pixels (one scalar mean and std for all).
    const std::vector<float>& v = s->train.values();
    double mean = 0;
    for (float x : v) mean += x;
    mean /= static_cast<double>(v.size());
    double var = 0;
    for (float x : v) var += (x - mean) * (x - mean);
    const double stdev = std::sqrt(var / static_cast<double>(v.size()));
    const float m = static_cast<float>(mean);
    const float inv = stdev > 0 ? static_cast<float>(1.0 / stdev) : 1.0f;
    for (Dataset* d : {&s->train, &s->val, &s->test})
      for (float& x : d->values()) x = (x - m) * inv;
  }
  if (spread > 0.0) {  // after standardising: standardize + spread = raw heterogeneous features
    const int64_t F = s->info.feature_dim;
    const std::vector<float> scale = fashion_feature_scales(F, spread);
    for (Dataset* d : {&s->train, &s->val, &s->test}) {
      std::vector<float>& v = d->values();
      for (size_t i = 0; i < v.size(); ++i) v[i] *= scale[i % static_cast<size_t>(F)];
    }
  }
  return s;
}

}  // namespace nl
