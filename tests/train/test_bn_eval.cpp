// BatchNorm's batch-statistics evaluation (pitfall 14): on a class-sorted split, reading it in
// order gives one-class batches; the evaluation reads a seeded shuffled order instead, with a
// stated batch size, the same order every time, and leaves the model untouched.
#include "data/loader.h"
#include "helpers.h"
#include "train/evaluation.h"
#include "train/metrics_log.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;

namespace {

// 64 flat two-feature examples, stored class by class (32 of class 0, then 32 of class 1).
Dataset class_sorted(DatasetInfo& info) {
  info.task = TaskKind::classification;
  info.num_classes = 2;
  info.feature_dim = 2;
  info.sequential = false;
  Dataset d(2, false);
  Rng rng(3);
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 32; ++i) {
      const float sign = c == 0 ? 1.0f : -1.0f;
      const float x[2] = {sign + 0.3f * static_cast<float>(rng.normal()), 0.3f * static_cast<float>(rng.normal())};
      d.add(x, 1, static_cast<float>(c));
    }
  return d;
}

std::shared_ptr<Model> bn_mlp(const DatasetInfo& info) {
  Rng rng(11);
  ModelArgs args;
  args.info = info;
  args.rng = &rng;
  const json spec = json::parse(R"({"type": "mlp", "hidden": [16], "norm": {"type": "batchnorm"}})");
  ConfigReader cfg(spec, "model");
  return make_model(cfg, args);
}

std::vector<float> state_of(const Module& m) {
  std::vector<float> all;
  for (const auto& [name, t] : m.state_dict())
    for (float v : t.to_vector()) all.push_back(v);
  return all;
}

}  // namespace

TEST_CASE("BN batch-statistics eval on a class-sorted split: shuffled differs from in-order and is deterministic",
          "[train][bn_eval]") {
  DatasetInfo info;
  const Dataset data = class_sorted(info);
  auto model = bn_mlp(info);
  // Give the running statistics real values (one train-mode pass), so restoring them is tested.
  {
    NoGradGuard ng;
    LoaderOptions lo;
    lo.batch_size = 64;
    DataLoader dl(data, info, lo, 1);
    Batch b = dl.next();
    model->forward_batch(b);
  }
  const std::vector<float> before = state_of(*model);
  LoaderOptions lo;
  lo.batch_size = 32;
  EvalOptions ordered;
  ordered.batch_stats = true;
  ordered.batch_size = 16;
  EvalOptions shuffled = ordered;
  shuffled.shuffle = true;
  shuffled.shuffle_seed = 42;
  const EvalResult a = evaluate_split(*model, TaskKind::classification, data, info, lo, ordered);
  const EvalResult b = evaluate_split(*model, TaskKind::classification, data, info, lo, shuffled);
  const EvalResult c = evaluate_split(*model, TaskKind::classification, data, info, lo, shuffled);
  REQUIRE(a.batch_size == 16);
  REQUIRE(a.total.count == 64);
  REQUIRE(b.total.count == 64);
  // In order, every batch holds one class and BN's batch mean removes the class signal.
  REQUIRE(a.total.loss() != b.total.loss());
  REQUIRE(b.total.loss_sum == c.total.loss_sum);  // the same order every call
  REQUIRE(b.total.metric_sum == c.total.metric_sum);
  // Another seed is another order (the order does depend on the seed).
  shuffled.shuffle_seed = 43;
  REQUIRE(evaluate_split(*model, TaskKind::classification, data, info, lo, shuffled).total.loss_sum !=
          b.total.loss_sum);
  REQUIRE(state_of(*model) == before);  // buffers restored, parameters untouched
  REQUIRE(model->is_training());
}

TEST_CASE("train BN batch-statistics records state their batch size and the shuffled order",
          "[train][bn_eval]") {
  const auto dir = fresh_dir("bn_eval_bs"), dir2 = fresh_dir("bn_eval_bs2");
  json cfg = tiny_config(20);
  cfg["model"]["bn"] = true;
  REQUIRE(train_config(cfg, dir).status == RunStatus::completed);
  int n = 0;
  for (const json& r : MetricsLog::read_jsonl((dir / "metrics.jsonl").string())) {
    if (r["mode"] == "eval") REQUIRE_FALSE(r.contains("shuffled"));
    if (r["mode"] != "batch_stats") continue;
    ++n;
    REQUIRE(r["batch_size"] == 16);  // train.batch_size by default
    REQUIRE(r["shuffled"] == true);
  }
  REQUIRE(n == 2);
  const json bs = json::parse(read_text(dir / "summary.json"))["final"]["val"]["batch_stats"];
  REQUIRE(bs["batch_size"] == 16);
  REQUIRE(bs["shuffled"] == true);
  // A stated batch size: other batches, other numbers; training itself is unchanged.
  json cfg2 = cfg;
  cfg2["train"]["bn_eval_batch_size"] = 8;
  REQUIRE(train_config(cfg2, dir2).status == RunStatus::completed);
  const json bs2 = json::parse(read_text(dir2 / "summary.json"))["final"]["val"]["batch_stats"];
  REQUIRE(bs2["batch_size"] == 8);
  REQUIRE(bs2["mse"] != bs["mse"]);
  const json s1 = json::parse(read_text(dir / "summary.json"))["final"]["test"];
  const json s2 = json::parse(read_text(dir2 / "summary.json"))["final"]["test"];
  REQUIRE(s1["mse"] == s2["mse"]);
  std::filesystem::remove_all(dir), std::filesystem::remove_all(dir2);
}
