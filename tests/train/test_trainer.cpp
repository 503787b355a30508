// The training run end to end on a tiny adding-problem config: learning, the run folder,
// determinism, bit-identical resume, NaN handling, Ctrl-C, and checkpoints readable by an
// independent safetensors reader.
#include <filesystem>

#include "helpers.h"
#include "safetensors_spec_reader.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;

namespace {

// metrics.jsonl without the wall-clock fields (kept under "timing" for exactly this).
std::vector<json> records_without_timing(const fs::path& dir) {
  std::vector<json> out = MetricsLog::read_jsonl((dir / "metrics.jsonl").string());
  for (json& r : out) r.erase("timing");
  return out;
}

std::vector<float> weights_of(const fs::path& dir) {
  const Checkpoint ck = load_checkpoint((dir / "checkpoint.safetensors").string());
  std::vector<float> all;
  for (const auto& [name, t] : ck.model)
    for (float v : t.to_vector()) all.push_back(v);
  for (const auto& [name, t] : ck.optim)
    for (float v : t.to_vector()) all.push_back(v);
  return all;
}

}  // namespace

TEST_CASE("train run on the adding problem learns and fills the run folder", "[train]") {
  const fs::path dir = fresh_dir("learns");
  const RunResult r = train_config(tiny_config(150), dir);
  REQUIRE(r.status == RunStatus::completed);
  REQUIRE(r.step == 150);
  for (const char* f : {"config.json", "metrics.jsonl", "metrics.csv", "checkpoint.safetensors", "summary.json"})
    REQUIRE(fs::exists(dir / f));
  // The constant predictor scores MSE 1/6 on the adding problem (target variance); the model
  // can represent the target exactly, so after 150 Adam steps it must be well below that.
  const json summary = json::parse(read_text(dir / "summary.json"));
  REQUIRE(summary["status"] == "completed");
  REQUIRE(summary["parameters"] == 8 * 2 + 8 + 8 + 1);
  REQUIRE(summary["metric"] == "mse");
  const double test_mse = summary["final"]["test"]["mse"].get<double>();
  INFO("test mse " << test_mse);
  REQUIRE(test_mse < 0.5 / 6.0);
  // Train loss goes down: the last logged window is far below the first.
  std::vector<double> train_loss;
  for (const json& rec : MetricsLog::read_jsonl((dir / "metrics.jsonl").string())) {
    REQUIRE(rec.contains("step"));
    REQUIRE(rec.contains("split"));
    REQUIRE(rec.contains("loss"));
    REQUIRE(rec.contains("timing"));
    if (rec["split"] == "train") train_loss.push_back(rec["loss"].get<double>());
  }
  REQUIRE(train_loss.size() == 30);  // every 5 steps
  REQUIRE(train_loss.back() < 0.25 * train_loss.front());
  // The effective config has every default filled in.
  const json cfg = json::parse(read_text(dir / "config.json"));
  REQUIRE(cfg["train"]["steps"] == 150);
  REQUIRE(cfg["train"].contains("checkpoint_interval"));
  REQUIRE(cfg["optim"]["beta2"] == 0.999);
  // The CSV has a header and one row per record.
  const std::string csv = read_text(dir / "metrics.csv");
  REQUIRE(csv.rfind("step,split,mode,loss,accuracy,mse,lr,wall_s,steps_per_s\n", 0) == 0);
  REQUIRE(std::count(csv.begin(), csv.end(), '\n') ==
          1 + static_cast<long>(MetricsLog::read_jsonl((dir / "metrics.jsonl").string()).size()));
  // Starting a second run in the same folder is refused.
  REQUIRE_THROWS_MENTIONING(train_config(tiny_config(10), dir), "already holds a run", "--resume");
  fs::remove_all(dir);
}

TEST_CASE("train runs with the same config and seed give identical metrics", "[train]") {
  const fs::path a = fresh_dir("det_a"), b = fresh_dir("det_b"), c = fresh_dir("det_c");
  REQUIRE(train_config(tiny_config(40), a).status == RunStatus::completed);
  REQUIRE(train_config(tiny_config(40), b).status == RunStatus::completed);
  const auto ra = records_without_timing(a), rb = records_without_timing(b);
  REQUIRE(ra.size() > 10);
  REQUIRE(ra == rb);
  REQUIRE(weights_of(a) == weights_of(b));
  // A different seed gives different metrics (the comparison can fail).
  json other = tiny_config(40);
  other["seed"] = 6;
  REQUIRE(train_config(other, c).status == RunStatus::completed);
  REQUIRE(records_without_timing(c) != ra);
  fs::remove_all(a), fs::remove_all(b), fs::remove_all(c);
}

TEST_CASE("train resume: N steps + resume N equals 2N steps bit for bit", "[train]") {
  const fs::path full = fresh_dir("resume_full"), part = fresh_dir("resume_part");
  // Stop at 23: not a multiple of the log (5) or eval (10) interval, so the resumed run must
  // restore the half-filled log window and the loader's position inside an epoch (16 batches).
  json cfg = tiny_config(46);
  cfg["optim"]["schedule"] = "cosine";  // lr depends on the step: resume must get it right
  REQUIRE(train_config(cfg, full).status == RunStatus::completed);
  const RunResult first = train_config(cfg, part, /*stop_after=*/23);
  REQUIRE(first.status == RunStatus::interrupted);
  REQUIRE(first.step == 23);
  REQUIRE(load_checkpoint((part / "checkpoint.safetensors").string()).step == 23);
  RunOptions opt;
  opt.quiet = true;
  const RunResult second = resume_run(part.string(), {}, opt);
  REQUIRE(second.status == RunStatus::completed);
  REQUIRE(second.step == 46);
  REQUIRE(weights_of(part) == weights_of(full));  // parameters, buffers and Adam state
  REQUIRE(records_without_timing(part) == records_without_timing(full));
  fs::remove_all(full), fs::remove_all(part);
}

TEST_CASE("train stops on a NaN loss naming the step and keeps the last good checkpoint", "[train]") {
  const fs::path dir = fresh_dir("nan");
  json cfg = tiny_config(40);
  cfg["train"]["checkpoint_interval"] = 5;
  cfg["model"]["nan_after_calls"] = 12;  // step 13's output is NaN
  const RunResult r = train_config(cfg, dir);
  REQUIRE(r.status == RunStatus::diverged);
  INFO(r.message);
  REQUIRE(r.message.find("NaN at step 13") != std::string::npos);
  REQUIRE(r.message.find("step 10") != std::string::npos);
  const Checkpoint ck = load_checkpoint((dir / "checkpoint.safetensors").string());
  REQUIRE(ck.step == 10);
  for (const auto& [name, t] : ck.model)
    for (float v : t.to_vector()) REQUIRE(std::isfinite(v));
  REQUIRE(json::parse(read_text(dir / "summary.json"))["status"] == "diverged");
  fs::remove_all(dir);
}

TEST_CASE("train on SIGINT saves a checkpoint at the end of the step and stops", "[train]") {
  const fs::path dir = fresh_dir("sigint");
  json cfg = tiny_config(40);
  cfg["model"]["interrupt_at_call"] = 7;  // the handler sets the flag during step 7
  const RunResult r = train_config(cfg, dir);
  REQUIRE(r.status == RunStatus::interrupted);
  REQUIRE(r.step == 7);
  REQUIRE(load_checkpoint((dir / "checkpoint.safetensors").string()).step == 7);
  REQUIRE(r.message.find("--resume") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("train checkpoint opens with an independent safetensors reader", "[train][safetensors]") {
  const fs::path dir = fresh_dir("ckpt_spec");
  REQUIRE(train_config(tiny_config(10), dir).status == RunStatus::completed);
  const SpecFile f = read_safetensors_by_spec((dir / "checkpoint.safetensors").string());
  REQUIRE(f.error.empty());
  // Tensor names are dotted as in named_parameters(); Adam's state sits under "optim.".
  register_test_models();
  Experiment ex = build_experiment(tiny_config(10));
  for (const auto& [name, t] : ex.model->named_parameters()) {
    INFO(name);
    REQUIRE(f.tensors.count(name) == 1);
    REQUIRE(f.tensors.at(name).shape == t.shape());
    REQUIRE(f.tensors.count("optim." + name + ".exp_avg") == 1);
  }
  REQUIRE(f.metadata.at("format") == "normlab-checkpoint");
  REQUIRE(f.metadata.at("format_version") == "1");
  REQUIRE(f.metadata.at("step") == "10");
  REQUIRE(json::parse(f.metadata.at("config"))["model"]["type"] == "test_tiny");
  REQUIRE(json::parse(f.metadata.at("train_state")).contains("loader"));
  fs::remove_all(dir);
}

TEST_CASE("train with BatchNorm reports the train-mode vs eval-mode gap without side effects", "[train]") {
  const fs::path with_gap = fresh_dir("bn_gap"), without = fresh_dir("bn_nogap"), part = fresh_dir("bn_part");
  json cfg = tiny_config(30);
  cfg["model"]["bn"] = true;
  REQUIRE(train_config(cfg, with_gap).status == RunStatus::completed);
  int batch_stats = 0;
  double last_eval_mse = -1;
  for (const json& r : MetricsLog::read_jsonl((with_gap / "metrics.jsonl").string())) {
    if (r["split"] == "val" && r["mode"] == "eval") last_eval_mse = r["mse"].get<double>();
    if (r["mode"] == "batch_stats") {
      ++batch_stats;
      REQUIRE(r["split"] == "val");
      // The gap is batch-statistics minus running-statistics mse, right after the eval record.
      REQUIRE(r["gap"]["mse"].get<double>() == r["mse"].get<double>() - last_eval_mse);
      REQUIRE(r["mse"].get<double>() != last_eval_mse);  // the two modes do differ
    }
  }
  REQUIRE(batch_stats == 3);  // at steps 10, 20 and the final evaluation
  const json summary = json::parse(read_text(with_gap / "summary.json"));
  REQUIRE(summary["has_batchnorm"] == true);
  REQUIRE(summary["final"]["val"]["batch_stats"].contains("gap"));
  // The batch-statistics evaluation restores the running stats: training is unchanged by it.
  json no_gap = cfg;
  no_gap["train"]["bn_train_mode_eval"] = false;
  REQUIRE(train_config(no_gap, without).status == RunStatus::completed);
  REQUIRE(weights_of(with_gap) == weights_of(without));
  // And a BN run resumes bit-identically (running stats travel in the checkpoint).
  REQUIRE(train_config(cfg, part, 13).status == RunStatus::interrupted);
  RunOptions opt;
  opt.quiet = true;
  REQUIRE(resume_run(part.string(), {}, opt).status == RunStatus::completed);
  REQUIRE(weights_of(part) == weights_of(with_gap));
  REQUIRE(records_without_timing(part) == records_without_timing(with_gap));
  fs::remove_all(with_gap), fs::remove_all(without), fs::remove_all(part);
}

TEST_CASE("train resume of a finished run changes nothing", "[train]") {
  const fs::path dir = fresh_dir("resume_done");
  REQUIRE(train_config(tiny_config(10), dir).status == RunStatus::completed);
  const std::string summary = read_text(dir / "summary.json");
  const auto records = records_without_timing(dir);
  RunOptions opt;
  opt.quiet = true;
  const RunResult r = resume_run(dir.string(), {}, opt);
  REQUIRE(r.status == RunStatus::completed);
  REQUIRE(r.step == 10);
  REQUIRE(read_text(dir / "summary.json") == summary);
  REQUIRE(records_without_timing(dir) == records);
  // A missing checkpoint is a clear error.
  REQUIRE_THROWS_MENTIONING(resume_run((dir / "nope").string(), {}, opt), "no checkpoint");
  fs::remove_all(dir);
}
