// Per-length-bucket evaluation: bucket edges (automatic and given), per-example sums from
// task_loss (the totals unchanged), bucket averages on hand-made batches whose values are known,
// and the "by_length" JSON of a real run's val/test records and summary.
#include <cmath>

#include "helpers.h"
#include "train/evaluation.h"
#include "train/length_buckets.h"
#include "train/metrics_log.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;

namespace {

// A sequential classification split of one-feature sequences with the given lengths.
Dataset sequences_of_lengths(const std::vector<int64_t>& lengths) {
  Dataset d(1, false);
  for (size_t i = 0; i < lengths.size(); ++i) {
    std::vector<float> steps(static_cast<size_t>(lengths[i]), 0.5f);
    d.add(steps.data(), lengths[i], static_cast<float>(i % 2));
  }
  return d;
}

DatasetInfo seq_info() {
  DatasetInfo info;
  info.task = TaskKind::classification;
  info.num_classes = 2;
  info.feature_dim = 1;
  info.sequential = true;
  return info;
}

std::vector<std::pair<int64_t, int64_t>> ranges(const LengthBuckets& b) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const LengthBucket& x : b.buckets()) out.emplace_back(x.min_length, x.max_length);
  return out;
}

}  // namespace

TEST_CASE("length buckets: automatic edges split the range in 4, given edges add an overflow bucket",
          "[train][buckets]") {
  // Lengths 20..60: 41 values, widths ceil(41/4) = 11, then 10, 10, 10.
  REQUIRE(auto_length_edges(20, 60) == std::vector<int64_t>{30, 40, 50, 60});
  REQUIRE(auto_length_edges(4, 10) == std::vector<int64_t>{5, 7, 9, 10});
  REQUIRE(auto_length_edges(3, 4) == std::vector<int64_t>{3, 4});  // fewer lengths than buckets
  const DatasetInfo info = seq_info();
  const Dataset d = sequences_of_lengths({20, 33, 60, 41});
  REQUIRE(ranges(LengthBuckets(d, info, {})) ==
          std::vector<std::pair<int64_t, int64_t>>{{20, 30}, {31, 40}, {41, 50}, {51, 60}});
  REQUIRE(ranges(LengthBuckets(d, info, {30, 40})) ==
          std::vector<std::pair<int64_t, int64_t>>{{1, 30}, {31, 40}, {41, 60}});
  REQUIRE(ranges(LengthBuckets(d, info, {60, 120})) ==
          std::vector<std::pair<int64_t, int64_t>>{{1, 60}, {61, 120}});
  // One length, or flat data: no buckets.
  REQUIRE(LengthBuckets(sequences_of_lengths({7, 7, 7}), info, {}).empty());
  DatasetInfo flat = info;
  flat.sequential = false;
  REQUIRE(LengthBuckets(d, flat, {30}).empty());
  REQUIRE_THROWS_AS(LengthBuckets(d, info, {40, 30}), ValueError);
}

TEST_CASE("task_loss per-example sums add up to the totals, which do not change", "[train][buckets]") {
  Batch b;
  b.inputs = Tensor::zeros({3, 4});
  b.targets = Tensor::from_vector({1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0}, {3, 4});
  b.mask = Tensor::from_vector({1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0}, {3, 4});
  const Tensor logits = rand_tensor({3, 4, 5}, 7, false);
  const TaskLoss plain = task_loss(TaskKind::language_model, logits, b);
  const TaskLoss per = task_loss(TaskKind::language_model, logits, b, true);
  REQUIRE(plain.example_count.empty());
  REQUIRE(per.loss.item() == plain.loss.item());  // bit-identical totals
  REQUIRE(per.metric_sum == plain.metric_sum);
  REQUIRE(per.count == plain.count);
  REQUIRE(per.example_count == std::vector<double>{2, 4, 1});
  double loss = 0, metric = 0;
  for (int b2 = 0; b2 < 3; ++b2) loss += per.example_loss[b2], metric += per.example_metric[b2];
  REQUIRE(loss / per.count == Approx(plain.loss.item()).epsilon(1e-5));
  REQUIRE(metric == plain.metric_sum);

  Batch c;
  c.inputs = Tensor::zeros({2, 1});
  c.targets = Tensor::from_vector({1, 2}, {2});
  const TaskLoss r = task_loss(TaskKind::regression, Tensor::from_vector({0, 5}, {2}), c, true);
  REQUIRE(r.example_loss == std::vector<double>{1, 9});
  REQUIRE(r.example_metric == std::vector<double>{1, 9});
}

TEST_CASE("length buckets average per example for classification and per token for language models",
          "[train][buckets]") {
  // Classification: 4 examples of lengths 2, 7, 3, 9 with edges [4, 8]: buckets [1,4] holds
  // examples 0 and 2, [5,8] example 1, [9,9] example 3.
  const DatasetInfo info = seq_info();
  LengthBuckets lb(sequences_of_lengths({2, 7, 3, 9}), info, {4, 8});
  Batch b;
  b.inputs = Tensor::zeros({4, 9, 1});
  b.lengths = Tensor::from_vector({2, 7, 3, 9}, {4});
  b.targets = Tensor::from_vector({0, 1, 1, 0}, {4});
  // Logits (a, 0): example loss is log(1 + e^-a) for target 0 and log(1 + e^a) for target 1.
  const std::vector<float> a = {2, -1, 1, 0.5f};
  std::vector<float> lg;
  for (float v : a) lg.push_back(v), lg.push_back(0);
  const TaskLoss t = task_loss(TaskKind::classification, Tensor::from_vector(lg, {4, 2}), b, true);
  lb.add(b, t);
  const json j = lb.to_json("accuracy");
  REQUIRE(j.size() == 3);
  const double l0 = std::log1p(std::exp(-2.0)), l2 = std::log1p(std::exp(1.0));
  REQUIRE(j[0]["min_length"] == 1);
  REQUIRE(j[0]["max_length"] == 4);
  REQUIRE(j[0]["count"] == 2);
  REQUIRE(j[0]["loss"].get<double>() == Approx((l0 + l2) / 2));
  REQUIRE(j[0]["accuracy"].get<double>() == 0.5);  // example 0 right, example 2 wrong
  REQUIRE(j[1]["count"] == 1);
  REQUIRE(j[1]["accuracy"].get<double>() == 1.0);  // a = -1: argmax 1 = target
  REQUIRE(j[1]["loss"].get<double>() == Approx(std::log1p(std::exp(-1.0))));
  REQUIRE(j[2]["min_length"] == 9);
  REQUIRE(j[2]["accuracy"].get<double>() == 1.0);
  REQUIRE(j[2]["loss"].get<double>() == Approx(std::log1p(std::exp(-0.5))));

  // Language model: a 1-token and a 3-token sequence in one bucket; the bucket loss is the
  // mean over the 4 tokens (as MetricSums counts), not the mean of the two example means.
  Dataset lm(1, true);
  const std::vector<float> ids(8, 1);  // long enough for the longest sequence below
  lm.add_sequence(ids.data(), 1, ids.data());
  lm.add_sequence(ids.data(), 3, ids.data());
  lm.add_sequence(ids.data(), 8, ids.data());
  DatasetInfo lm_info = info;
  lm_info.task = TaskKind::language_model;
  LengthBuckets lmb(lm, lm_info, {4});
  Batch c;
  c.inputs = Tensor::zeros({2, 3});
  c.lengths = Tensor::from_vector({1, 3}, {2});
  c.mask = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {2, 3});
  c.targets = Tensor::from_vector({0, 0, 0, 0, 1, 0}, {2, 3});
  // Each token's logits (a, 0): target 0 costs log(1 + e^-a), target 1 log(1 + e^a).
  const std::vector<float> al = {3, 9, 9, 1, 1, -2};
  std::vector<float> lgl;
  for (float v : al) lgl.push_back(v), lgl.push_back(0);
  const TaskLoss tl = task_loss(TaskKind::language_model, Tensor::from_vector(lgl, {2, 3, 2}), c, true);
  lmb.add(c, tl);
  const json jl = lmb.to_json("accuracy");
  REQUIRE(jl.size() == 1);  // the [5, 8] bucket holds no evaluated example: left out
  REQUIRE(jl[0]["count"] == 2);
  const double tok = std::log1p(std::exp(-3.0)) + std::log1p(std::exp(-1.0)) + std::log1p(std::exp(1.0)) +
                     std::log1p(std::exp(2.0));
  REQUIRE(jl[0]["loss"].get<double>() == Approx(tok / 4));
  REQUIRE(jl[0]["accuracy"].get<double>() == 0.5);  // tokens 0 and 3 right, 1 and 2 wrong
}

TEST_CASE("evaluate_split: by_length covers every example and leaves the totals unchanged",
          "[train][buckets]") {
  register_test_models();
  Experiment ex = build_experiment(tiny_config(10));
  EvalOptions on, off;
  off.by_length = false;
  const Dataset& val = ex.data->val;
  const EvalResult a = evaluate_split(*ex.model, ex.data->info.task, val, ex.data->info, ex.data->loader, on);
  const EvalResult b = evaluate_split(*ex.model, ex.data->info.task, val, ex.data->info, ex.data->loader, off);
  REQUIRE(b.buckets.empty());
  REQUIRE(a.total.loss_sum == b.total.loss_sum);
  REQUIRE(a.total.metric_sum == b.total.metric_sum);
  const json j = a.buckets.to_json("mse");
  int64_t n = 0;
  double sq = 0;
  for (const json& k : j) {
    n += k["count"].get<int64_t>();
    sq += k["mse"].get<double>() * k["count"].get<double>();
  }
  REQUIRE(n == val.size());
  REQUIRE(sq == Approx(a.total.metric_sum));  // the squared errors split over the buckets
}

TEST_CASE("train records of variable-length data carry by_length, fixed-length ones do not",
          "[train][buckets]") {
  const auto dir = fresh_dir("by_length");
  json cfg = tiny_config(20);
  cfg["model"]["bn"] = true;  // batch-statistics records too
  REQUIRE(train_config(cfg, dir).status == RunStatus::completed);
  int evals = 0;
  for (const json& r : MetricsLog::read_jsonl((dir / "metrics.jsonl").string())) {
    if (r["split"] == "train") {
      REQUIRE_FALSE(r.contains("by_length"));
      continue;
    }
    ++evals;
    REQUIRE(r["by_length"].is_array());
    REQUIRE(r["by_length"].size() >= 2);
    int64_t prev_max = 0;
    for (const json& k : r["by_length"]) {
      for (const char* key : {"min_length", "max_length", "count", "loss", "mse"}) REQUIRE(k.contains(key));
      REQUIRE(k["min_length"].get<int64_t>() > prev_max);
      REQUIRE(k["max_length"].get<int64_t>() >= k["min_length"].get<int64_t>());
      REQUIRE(k["count"].get<int64_t>() > 0);
      prev_max = k["max_length"].get<int64_t>();
    }
  }
  REQUIRE(evals == 5);  // val eval + batch stats at steps 10 and 20, test at 20
  const json s = json::parse(read_text(dir / "summary.json"));
  REQUIRE(s["final"]["val"]["by_length"].is_array());
  REQUIRE(s["final"]["val"]["batch_stats"]["by_length"].is_array());
  REQUIRE(s["final"]["test"]["by_length"].is_array());
  // Given edges: [1,6] and [7,10] (the overflow bucket up to the split's longest).
  const auto dir2 = fresh_dir("by_length_edges");
  json cfg2 = tiny_config(10);
  cfg2["train"]["length_buckets"] = json::array({6});
  REQUIRE(train_config(cfg2, dir2).status == RunStatus::completed);
  const json t = json::parse(read_text(dir2 / "summary.json"))["final"]["test"]["by_length"];
  REQUIRE(t.size() == 2);
  REQUIRE(t[0]["max_length"] == 6);
  REQUIRE(t[1]["min_length"] == 7);
  REQUIRE(t[1]["max_length"] == 10);
  // Fixed-length data (one length everywhere): no by_length key.
  const auto dir3 = fresh_dir("by_length_fixed");
  json cfg3 = tiny_config(10);
  cfg3["data"]["min_length"] = 6;
  cfg3["data"]["max_length"] = 6;
  REQUIRE(train_config(cfg3, dir3).status == RunStatus::completed);
  for (const json& r : MetricsLog::read_jsonl((dir3 / "metrics.jsonl").string())) REQUIRE_FALSE(r.contains("by_length"));
  REQUIRE_FALSE(json::parse(read_text(dir3 / "summary.json"))["final"]["test"].contains("by_length"));
  // Bad edges are a config error naming the key.
  json bad = tiny_config(10);
  bad["train"]["length_buckets"] = json::array({8, 4});
  REQUIRE_THROWS_MENTIONING(build_experiment(bad), "train.length_buckets", "strictly increasing");
  std::filesystem::remove_all(dir), std::filesystem::remove_all(dir2), std::filesystem::remove_all(dir3);
}
