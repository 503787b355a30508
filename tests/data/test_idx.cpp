// IDX reading (valid, corrupted, truncated files written by the test) and Fashion-MNIST
// loading, on small fake files and (when installed) on the real dataset.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/datasets.h"
#include "data/idx.h"
#include "helpers.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

// A fresh temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("normlab_" + tag + "_" + std::to_string(getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::vector<uint8_t> pixels(int64_t n, int64_t side = 28) {
  std::vector<uint8_t> v(static_cast<size_t>(n * side * side));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>((i * 7 + i / 784) % 256);
  return v;
}

// A fake Fashion-MNIST folder: n_train / n_test images with labels i % 10.
void write_fake_fashion(const TempDir& d, int64_t n_train, int64_t n_test) {
  for (auto [prefix, n] : {std::pair<std::string, int64_t>{"train", n_train}, {"t10k", n_test}}) {
    write_idx_gz(d.file(prefix + "-images-idx3-ubyte.gz"), {n, 28, 28}, pixels(n));
    std::vector<uint8_t> labels;
    for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
    write_idx_gz(d.file(prefix + "-labels-idx1-ubyte.gz"), {n}, labels);
  }
}

std::shared_ptr<DataSplits> fashion(const json& j) {
  ConfigReader cfg(j, "data");
  return make_dataset(cfg, 0);
}

}  // namespace

TEST_CASE("read_idx parses a small gzip IDX file", "[data][idx]") {
  TempDir d("idx_ok");
  const auto img = pixels(5);
  write_idx_gz(d.file("img.gz"), {5, 28, 28}, img);
  const IdxArray a = read_idx(d.file("img.gz"), 2051);
  CHECK(a.magic == 2051u);
  CHECK(a.dims == std::vector<int64_t>{5, 28, 28});
  CHECK(a.items == 5);
  CHECK(a.item_size() == 784);
  CHECK(a.data == img);
  const IdxArray head = read_idx(d.file("img.gz"), 2051, 2);
  CHECK(head.items == 2);
  CHECK(std::vector<uint8_t>(img.begin(), img.begin() + 2 * 784) == head.data);
  write_idx_gz(d.file("lab.gz"), {3}, {4, 5, 6});
  const IdxArray l = read_idx(d.file("lab.gz"), 2049);
  CHECK(l.dims == std::vector<int64_t>{3});
  CHECK(l.data == std::vector<uint8_t>{4, 5, 6});
}

TEST_CASE("read_idx rejects corrupted files with a DataError naming the file", "[data][idx]") {
  TempDir d("idx_bad");
  // Wrong magic: a label file where images are expected.
  write_idx_gz(d.file("labels.gz"), {3}, {1, 2, 3});
  REQUIRE_THROWS_MENTIONING(read_idx(d.file("labels.gz"), 2051), "labels.gz", "bad magic number 2049");
  // Truncated: the header declares 5 images, the file holds 3.
  write_idx_gz(d.file("short.gz"), {5, 28, 28}, pixels(3));
  REQUIRE_THROWS_MENTIONING(read_idx(d.file("short.gz"), 2051), "short.gz", "truncated");
  // Truncated inside the header.
  {
    std::ofstream f(d.file("tiny"), std::ios::binary);
    f.write("\0\0\x08", 3);
  }
  REQUIRE_THROWS_MENTIONING(read_idx(d.file("tiny"), 2051), "tiny", "truncated");
  // A corrupted gzip stream (bytes flipped in the middle of the compressed data).
  write_idx_gz(d.file("flip.gz"), {50, 28, 28}, pixels(50));
  {
    std::fstream f(d.file("flip.gz"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    const char junk[64] = {'\x55', '\x13', '\x7f', '\x00', '\x01', '\xff'};
    f.write(junk, sizeof junk);
  }
  REQUIRE_THROWS_MENTIONING(read_idx(d.file("flip.gz"), 2051), "flip.gz");
  // Missing file: the path and the package to install.
  REQUIRE_THROWS_MENTIONING(read_idx(d.file("nope.gz"), 2051, -1, "apt-get install dataset-fashion-mnist"),
                            "nope.gz", "apt-get install dataset-fashion-mnist");
}

TEST_CASE("fashion_mnist on fake files: layouts, splits, scaling", "[data][idx]") {
  TempDir d("fashion_fake");
  write_fake_fashion(d, 12, 4);
  auto rows = fashion({{"type", "fashion_mnist"}, {"dir", d.path.string()}, {"layout", "rows"},
                       {"val_size", 3}, {"standardize", false}});
  CHECK(rows->info.sequential);
  CHECK(rows->info.feature_dim == 28);
  CHECK(rows->info.num_classes == 10);
  REQUIRE(rows->train.size() == 9);
  REQUIRE(rows->val.size() == 3);
  REQUIRE(rows->test.size() == 4);
  CHECK(rows->train.length(0) == 28);
  CHECK(rows->train.step_dim() == 28);
  const auto px = pixels(12);
  // Image 4 of the training file, row 5, column 6; val = the last 3 images of the file.
  CHECK(rows->train.steps(4)[5 * 28 + 6] == static_cast<float>(px[4 * 784 + 5 * 28 + 6]) / 255.0f);
  CHECK(rows->train.target(4) == 4.0f);
  CHECK(rows->val.target(0) == 9.0f);
  CHECK(rows->val.steps(2)[0] == static_cast<float>(px[11 * 784]) / 255.0f);

  auto flat = fashion({{"type", "fashion_mnist"}, {"dir", d.path.string()}, {"val_size", 2},
                       {"train_size", 6}, {"test_size", 2}});
  CHECK_FALSE(flat->info.sequential);
  CHECK(flat->info.feature_dim == 784);
  CHECK(flat->train.size() == 6);
  CHECK(flat->test.size() == 2);
  CHECK(flat->train.step_dim() == 784);
  double mean = 0, sq = 0;
  for (float v : flat->train.values()) mean += v;
  mean /= static_cast<double>(flat->train.values().size());
  for (float v : flat->train.values()) sq += (v - mean) * (v - mean);
  const double sd = std::sqrt(sq / static_cast<double>(flat->train.values().size()));
  CHECK(std::abs(mean) < 1e-4);      // float rounding of 4704 standardised values
  CHECK(std::abs(sd - 1.0) < 1e-4);

  REQUIRE_THROWS_MENTIONING(fashion({{"type", "fashion_mnist"}, {"dir", d.path.string()},
                                     {"val_size", 5}, {"train_size", 8}}),
                            "data.train_size", "exceeds");
}

TEST_CASE("fashion_mnist rejects mismatched, mis-sized and missing files", "[data][idx]") {
  TempDir d("fashion_bad");
  write_fake_fashion(d, 12, 4);
  write_idx_gz(d.file("train-labels-idx1-ubyte.gz"), {11}, std::vector<uint8_t>(11, 1));
  REQUIRE_THROWS_MENTIONING(fashion({{"type", "fashion_mnist"}, {"dir", d.path.string()}, {"val_size", 2}}),
                            "train-labels-idx1-ubyte.gz", "12 images but 11 labels");
  write_fake_fashion(d, 12, 4);
  write_idx_gz(d.file("t10k-images-idx3-ubyte.gz"), {4, 27, 28}, std::vector<uint8_t>(4 * 27 * 28));
  REQUIRE_THROWS_MENTIONING(fashion({{"type", "fashion_mnist"}, {"dir", d.path.string()}, {"val_size", 2}}),
                            "t10k-images-idx3-ubyte.gz", "28x28");
  write_fake_fashion(d, 12, 4);
  write_idx_gz(d.file("t10k-labels-idx1-ubyte.gz"), {4}, {1, 2, 10, 3});
  REQUIRE_THROWS_MENTIONING(fashion({{"type", "fashion_mnist"}, {"dir", d.path.string()}, {"val_size", 2}}),
                            "t10k-labels-idx1-ubyte.gz", "label 10");
  REQUIRE_THROWS_MENTIONING(fashion({{"type", "fashion_mnist"}, {"dir", d.file("missing")}}),
                            "missing/train-images-idx3-ubyte.gz", "apt-get install dataset-fashion-mnist");
}

TEST_CASE("fashion_mnist real files smoke test", "[data][idx][real]") {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz")) {
    WARN("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): skipped");
    return;
  }
  auto s = fashion({{"type", "fashion_mnist"}, {"layout", "rows"}, {"train_size", 2000},
                    {"val_size", 500}, {"test_size", 500}});
  REQUIRE(s->train.size() == 2000);
  REQUIRE(s->val.size() == 500);
  REQUIRE(s->test.size() == 500);
  CHECK(s->info.max_length == 28);
  std::vector<int> count(10);
  for (int64_t i = 0; i < s->train.size(); ++i) ++count[static_cast<int>(s->train.target(i))];
  for (int c : count) CHECK(c > 100);  // roughly balanced classes (~200 each)
  const IdxArray labels = read_idx(dir + "/t10k-labels-idx1-ubyte.gz", 2049);
  CHECK(labels.dims == std::vector<int64_t>{10000});
}

TEST_CASE("fashion_mnist feature_scale_spread: fixed per-feature scales after standardising",
          "[data][idx][spread]") {
  TempDir d("fashion_spread");
  write_fake_fashion(d, 12, 4);
  const json base = {{"type", "fashion_mnist"}, {"dir", d.path.string()}, {"val_size", 3}};
  auto with = [&](json extra, uint64_t seed = 0) {
    json j = base;
    j.update(extra);
    ConfigReader cfg(j, "data");
    return make_dataset(cfg, seed);
  };
  // The scales: evenly spaced in log10 over [-s/2, s/2], so largest / smallest = 10^s.
  const std::vector<float> sc = fashion_feature_scales(784, 3.0);
  const float lo = *std::min_element(sc.begin(), sc.end()), hi = *std::max_element(sc.begin(), sc.end());
  CHECK(hi / lo == Approx(1000.0).epsilon(1e-4));
  CHECK(lo == Approx(std::pow(10.0, -1.5)).epsilon(1e-5));
  std::vector<double> logs;
  for (float v : sc) logs.push_back(std::log10(v));
  std::sort(logs.begin(), logs.end());
  CHECK(logs[1] - logs[0] == Approx(3.0 / 783).epsilon(1e-3));
  CHECK(sc != std::vector<float>(fashion_feature_scales(784, 3.0).size(), sc[0]));
  CHECK(sc[0] != sc[1]);  // not sorted by pixel index (a fixed random order)

  for (bool standardize : {true, false}) {
    INFO("standardize " << standardize);
    auto ref = with({{"standardize", standardize}});
    auto spread = with({{"standardize", standardize}, {"feature_scale_spread", 3.0}});
    auto other_seed = with({{"standardize", standardize}, {"feature_scale_spread", 3.0}}, 7);
    for (auto [a, b] : {std::pair{&ref->train, &spread->train}, {&ref->test, &spread->test}}) {
      const auto& va = a->values();
      const auto& vb = b->values();
      REQUIRE(va.size() == vb.size());
      for (size_t i = 0; i < va.size(); ++i) REQUIRE(vb[i] == va[i] * sc[i % 784]);
    }
    CHECK(other_seed->train.values() == spread->train.values());  // not the run seed's
    // Spread 0 (the default) changes nothing.
    CHECK(with({{"standardize", standardize}, {"feature_scale_spread", 0.0}})->train.values() ==
          ref->train.values());
  }
  // rows: a feature is a column, the same scale at every row.
  auto rows = with({{"layout", "rows"}, {"feature_scale_spread", 2.0}});
  auto rows_ref = with({{"layout", "rows"}});
  const std::vector<float> sc28 = fashion_feature_scales(28, 2.0);
  CHECK(rows->train.steps(1)[5 * 28 + 6] == rows_ref->train.steps(1)[5 * 28 + 6] * sc28[6]);
  REQUIRE_THROWS_MENTIONING(with({{"feature_scale_spread", -1.0}}), "data.feature_scale_spread");
}
