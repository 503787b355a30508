// Synthetic datasets (adding problem, sequence classification, pattern LM) and the dataset
// config: statistics, labels, determinism, config errors.
#include <cmath>

#include "data/dataset.h"
#include "data/loader.h"
#include "helpers.h"

using namespace nl;

namespace {
std::shared_ptr<DataSplits> build(const json& j, uint64_t seed = 1) {
  ConfigReader cfg(j, "data");
  return make_dataset(cfg, seed);
}
}  // namespace

TEST_CASE("adding problem: two markers, target = marked sum, constant predictor MSE 1/6", "[data][synthetic]") {
  auto s = build({{"type", "adding"}, {"train_size", 20000}, {"val_size", 10}, {"test_size", 300},
                  {"min_length", 10}, {"max_length", 30}, {"test_min_length", 100},
                  {"test_max_length", 120}});
  CHECK(s->info.task == TaskKind::regression);
  CHECK(s->info.feature_dim == 2);
  CHECK(s->info.max_length <= 120);
  const Dataset& d = s->train;
  REQUIRE(d.size() == 20000);
  double sq = 0;
  int64_t min_len = 1000, max_len = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const int64_t L = d.length(i);
    min_len = std::min(min_len, L);
    max_len = std::max(max_len, L);
    const float* x = d.steps(i);
    int markers = 0, first_half = 0;
    double sum = 0;
    for (int64_t t = 0; t < L; ++t) {
      REQUIRE(x[2 * t] >= 0.0f);
      REQUIRE(x[2 * t] < 1.0f);
      REQUIRE((x[2 * t + 1] == 0.0f || x[2 * t + 1] == 1.0f));
      if (x[2 * t + 1] == 1.0f) {
        ++markers;
        first_half += t < L / 2;
        sum += x[2 * t];
      }
    }
    REQUIRE(markers == 2);
    REQUIRE(first_half == 1);
    REQUIRE(std::abs(sum - d.target(i)) < 1e-6);
    sq += (d.target(i) - 1.0) * (d.target(i) - 1.0);
  }
  CHECK(min_len == 10);
  CHECK(max_len == 30);
  // (y-1)^2 has variance 1/15 - 1/36 ~ 0.039 -> standard error 0.0014 at n = 20000; the
  // tolerance is ~4 standard errors.
  CHECK(std::abs(sq / d.size() - 1.0 / 6.0) < 0.006);
  for (int64_t i = 0; i < s->test.size(); ++i) {
    REQUIRE(s->test.length(i) >= 100);
    REQUIRE(s->test.length(i) <= 120);
  }
  // Same seed -> same data; another seed -> other data; split sizes do not shift the others.
  auto again = build({{"type", "adding"}, {"train_size", 50}, {"val_size", 10}, {"test_size", 300},
                      {"min_length", 10}, {"max_length", 30}, {"test_min_length", 100},
                      {"test_max_length", 120}});
  CHECK(again->test.values() == s->test.values());
  auto other = build({{"type", "adding"}, {"train_size", 50}}, 2);
  auto base = build({{"type", "adding"}, {"train_size", 50}}, 1);
  CHECK(other->train.values() != base->train.values());
}

TEST_CASE("sequence_class labels follow their rule", "[data][synthetic]") {
  for (const char* rule : {"majority", "parity", "first_token"}) {
    auto s = build({{"type", "sequence_class"}, {"rule", rule}, {"num_symbols", 3},
                    {"train_size", 300}, {"min_length", 2}, {"max_length", 9}});
    CHECK(s->info.vocab_size == 4);
    CHECK(s->info.num_classes == (std::string(rule) == "parity" ? 2 : 3));
    std::vector<int64_t> label_count(static_cast<size_t>(s->info.num_classes));
    for (int64_t i = 0; i < s->train.size(); ++i) {
      const float* x = s->train.steps(i);
      int64_t c[4] = {0, 0, 0, 0};
      for (int64_t t = 0; t < s->train.length(i); ++t) {
        REQUIRE(x[t] >= 1.0f);
        REQUIRE(x[t] <= 3.0f);
        ++c[static_cast<int>(x[t])];
      }
      int64_t expect = 0;
      if (std::string(rule) == "parity") expect = c[1] % 2;
      else if (std::string(rule) == "first_token") expect = static_cast<int64_t>(x[0]) - 1;
      else expect = (c[1] >= c[2] && c[1] >= c[3]) ? 0 : (c[2] >= c[3] ? 1 : 2);
      REQUIRE(s->train.target(i) == static_cast<float>(expect));
      ++label_count[expect];
    }
    for (int64_t n : label_count) CHECK(n > 30);  // every class occurs
  }
}

TEST_CASE("pattern_lm targets are the inputs shifted by one and periodic", "[data][synthetic]") {
  auto s = build({{"type", "pattern_lm"}, {"train_size", 100}, {"num_symbols", 5}});
  CHECK(s->info.task == TaskKind::language_model);
  CHECK(s->info.vocab_size == 6);
  const Dataset& d = s->train;
  REQUIRE(d.per_step_targets());
  for (int64_t i = 0; i < d.size(); ++i) {
    const float* x = d.steps(i);
    const float* y = d.step_targets(i);
    for (int64_t t = 0; t + 1 < d.length(i); ++t) REQUIRE(y[t] == x[t + 1]);
    for (int64_t t = 0; t < d.length(i); ++t) REQUIRE((x[t] >= 1.0f && x[t] <= 5.0f));
  }
}

TEST_CASE("dataset config errors name the key", "[data][config]") {
  REQUIRE_THROWS_MENTIONING(build({{"type", "adding"}, {"train_sise", 10}}), "data.train_sise",
                            "did you mean 'data.train_size'");
  REQUIRE_THROWS_MENTIONING(build({{"type", "adding"}, {"min_length", 1}}), "data.min_length",
                            "out of range");
  REQUIRE_THROWS_MENTIONING(build({{"type", "adding"}, {"min_length", 50}, {"max_length", 40}}),
                            "data.min_length", "larger");
  REQUIRE_THROWS_MENTIONING(build({{"type", "addding"}}), "data.type", "did you mean 'adding'");
  REQUIRE_THROWS_MENTIONING(build({{"type", "adding"}, {"loader", {{"drop_lst", true}}}}),
                            "data.loader.drop_lst", "did you mean 'data.loader.drop_last'");
  REQUIRE_THROWS_MENTIONING(build({{"type", "sequence_class"}, {"rule", "parity"}, {"num_symbols", "x"}}),
                            "data.num_symbols", "expected an integer");
  REQUIRE_THROWS_AS(build({{"type", "adding"}, {"loader", {{"length_mode", "fix"}}}}), ConfigError);
}

TEST_CASE("dataset defaults are documented and feed a loader", "[data][config]") {
  const json empty = json::object();  // the reader keeps a pointer to its source
  ConfigReader cfg(empty, "data");
  auto s = make_dataset(cfg, 3);
  CHECK(cfg.effective().at("type") == "adding");
  CHECK(cfg.effective().at("loader").at("bucket_batches") == 0);
  CHECK(s->loader.shuffle);
  LoaderOptions opt = s->loader;
  opt.batch_size = 16;
  DataLoader loader(s->train, s->info, opt, 3);
  const Batch b = loader.next();
  CHECK(b.inputs.size(0) == 16);
  CHECK(b.inputs.size(2) == 2);
}
