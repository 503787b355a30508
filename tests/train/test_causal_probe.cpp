// The causal-leak probe (claim E5b): LayerNorm never leaks, BatchNorm leaks in train mode and
// not in eval mode; the probe changes nothing in the model and is deterministic; a language
// model run's summary carries it.
#include "data/loader.h"
#include "helpers.h"
#include "train/causal_probe.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;

namespace {

json lm_config(const std::string& norm) {
  json cfg = json::parse(R"({
    "seed": 3,
    "data": {"type": "pattern_lm", "train_size": 64, "val_size": 16, "test_size": 16,
             "min_length": 8, "max_length": 16},
    "model": {"type": "transformer_lm", "d_model": 16, "heads": 2, "layers": 2, "ff": 32},
    "optim": {"type": "adam", "lr": 0.01},
    "train": {"steps": 6, "batch_size": 8, "log_interval": 3, "eval_interval": 0}
  })");
  cfg["model"]["norm"]["type"] = norm;
  return cfg;
}

struct Probed {
  json result;
  bool unchanged = false;
};

// Builds the experiment, runs a few train-mode passes (so BN's running stats are not the
// initial ones), then probes on the first two test batches.
Probed probe(const std::string& norm) {
  Experiment ex = build_experiment(lm_config(norm));
  DataLoader train(ex.data->train, ex.data->info, ex.data->loader, ex.seed);
  {
    NoGradGuard ng;
    for (int i = 0; i < 3; ++i) ex.model->forward_batch(train.next());
  }
  DataLoader dl(ex.data->test, ex.data->info, ex.data->loader.for_eval(), ex.seed);
  const Batch x = dl.next(), y = dl.next();
  std::vector<float> before;
  for (const auto& [name, t] : ex.model->state_dict())
    for (float v : t.to_vector()) before.push_back(v);
  Probed p;
  p.result = causal_probe(*ex.model, x, y, ex.data->info.vocab_size, 77);
  std::vector<float> after;
  for (const auto& [name, t] : ex.model->state_dict())
    for (float v : t.to_vector()) after.push_back(v);
  p.unchanged = before == after && ex.model->is_training();
  return p;
}

}  // namespace

TEST_CASE("causal probe: LayerNorm does not leak in either mode", "[train][probe]") {
  const Probed p = probe("layernorm");
  INFO(p.result.dump());
  REQUIRE(p.result["changed_tokens"].get<int64_t>() > 0);
  REQUIRE(p.result["leak_train"].get<double>() == 0.0);
  REQUIRE(p.result["leak_eval"].get<double>() == 0.0);
  REQUIRE_FALSE(p.result.contains("loss_own_stats"));  // the loss control is for BN only
  REQUIRE(p.unchanged);
}

TEST_CASE("causal probe: BatchNorm leaks in train mode, not in eval mode, and the control has three losses",
          "[train][probe]") {
  const Probed p = probe("batchnorm");
  INFO(p.result.dump());
  REQUIRE(p.result["leak_train"].get<double>() > 0.0);
  REQUIRE(p.result["leak_eval"].get<double>() == 0.0);
  for (const char* k : {"loss_own_stats", "loss_other_stats", "loss_running_stats"}) {
    REQUIRE(std::isfinite(p.result[k].get<double>()));
    REQUIRE(p.result[k].get<double>() > 0.0);
  }
  // Three different normalisations give three different losses.
  REQUIRE(p.result["loss_other_stats"] != p.result["loss_own_stats"]);
  REQUIRE(p.result["loss_other_stats"] != p.result["loss_running_stats"]);
  REQUIRE(p.result["batch_size"] == 8);
  REQUIRE(p.result["seq_len"].get<int64_t>() >= 8);
  REQUIRE(p.unchanged);  // parameters and buffers bit-identical
  REQUIRE(probe("batchnorm").result == p.result);  // deterministic
}

TEST_CASE("causal probe: normalising X with its own statistics via the running buffers reproduces train mode",
          "[train][probe]") {
  // With y = x, "other" statistics are x's own: the recovered biased statistics must give the
  // train-mode loss (up to float rounding of the recovery), which checks the momentum/bias undo.
  Experiment ex = build_experiment(lm_config("batchnorm"));
  DataLoader dl(ex.data->test, ex.data->info, ex.data->loader.for_eval(), ex.seed);
  const Batch x = dl.next();
  const json r = causal_probe(*ex.model, x, x, ex.data->info.vocab_size, 1);
  REQUIRE(r["loss_other_stats"].get<double>() == Approx(r["loss_own_stats"].get<double>()).epsilon(1e-4));
}

TEST_CASE("train summary of a language-model run holds the causal probe", "[train][probe]") {
  const auto bn = fresh_dir("probe_bn"), ln = fresh_dir("probe_ln"), off = fresh_dir("probe_off");
  REQUIRE(train_config(lm_config("batchnorm"), bn).status == RunStatus::completed);
  const json pb = json::parse(read_text(bn / "summary.json"))["final"]["probe"];
  for (const char* k : {"leak_train", "leak_eval", "loss_own_stats", "loss_other_stats", "loss_running_stats",
                        "batch_size", "seq_len"})
    REQUIRE(pb.contains(k));
  REQUIRE(pb["leak_train"].get<double>() > 0.0);
  REQUIRE(pb["leak_eval"].get<double>() == 0.0);
  REQUIRE(train_config(lm_config("layernorm"), ln).status == RunStatus::completed);
  const json pl = json::parse(read_text(ln / "summary.json"))["final"]["probe"];
  REQUIRE(pl["leak_train"].get<double>() == 0.0);
  REQUIRE_FALSE(pl.contains("loss_own_stats"));
  json no = lm_config("batchnorm");
  no["train"]["causal_probe"] = false;
  REQUIRE(train_config(no, off).status == RunStatus::completed);
  REQUIRE_FALSE(json::parse(read_text(off / "summary.json"))["final"].contains("probe"));
  std::filesystem::remove_all(bn), std::filesystem::remove_all(ln), std::filesystem::remove_all(off);
}
