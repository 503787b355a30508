// The training loop and the run folder (see train/trainer.h).
#include "train/trainer.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "core/json_depth.h"
#include "data/loader.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/task_loss.h"

namespace nl {

namespace fs = std::filesystem;

bool has_batchnorm(const Module& m) {
  for (const auto& [name, mod] : m.named_modules())
    if (mod->type_name().find("BatchNorm") != std::string::npos) return true;
  return false;
}

namespace {

constexpr const char* kCheckpointFile = "checkpoint.safetensors";

void write_json_file(const std::string& path, const json& j) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) throw DataError("cannot write '" + path + "': " + std::strerror(errno));
  }
  fs::rename(tmp, path);
}

json sums_to_json(const MetricSums& s) {
  return {{"loss_sum", s.loss_sum}, {"metric_sum", s.metric_sum}, {"count", s.count}, {"batches", s.batches}};
}

MetricSums sums_from_json(const json& j) {
  MetricSums s;
  s.loss_sum = j.at("loss_sum").get<double>();
  s.metric_sum = j.at("metric_sum").get<double>();
  s.count = j.at("count").get<double>();
  s.batches = j.at("batches").get<int64_t>();
  return s;
}

bool all_finite(const Module& m) {
  for (const auto& [name, t] : m.state_dict()) {
    const float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (!std::isfinite(p[i])) return false;
  }
  return true;
}

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(4);
  os << std::fixed << v;
  return os.str();
}

// One training run over an experiment; resumable from a checkpoint.
class Trainer {
 public:
  Trainer(Experiment& ex, const RunOptions& opt)
      : ex_(ex),
        opt_(opt),
        task_(ex.data->info.task),
        metric_(metric_name(task_)),
        loader_(ex.data->train, ex.data->info, ex.data->loader, ex.seed),
        total_(ex.total_steps),
        progress_(*opt.out, opt.tty, opt.quiet),
        bn_(has_batchnorm(*ex.model)) {}

  // Starts a new run (the folder must not hold a run yet).
  void start() {
    fs::create_directories(opt_.out_dir);
    if (fs::exists(dir_file(kCheckpointFile)) || fs::exists(dir_file("metrics.jsonl")))
      throw ConfigError("run folder '" + opt_.out_dir + "' already holds a run (continue it with --resume " +
                        opt_.out_dir + ", or choose another --out)");
    write_json_file(dir_file("config.json"), ex_.config);
    log_.emplace(opt_.out_dir);
  }

  // Starts over in a folder whose run was stopped before its first checkpoint.
  void restart() {
    write_json_file(dir_file("config.json"), ex_.config);
    log_.emplace(opt_.out_dir);
  }

  // Restores the state saved in a checkpoint of this experiment.
  void restore(const Checkpoint& ck) {
    std::map<std::string, Tensor> model_state(ck.model.begin(), ck.model.end());
    try {  // e.g. --resume with --set model.* changing a shape: name the file and the tensor
      ex_.model->load_state_dict(model_state, /*strict=*/true);
      ex_.optim->load_state_dict(std::map<std::string, Tensor>(ck.optim.begin(), ck.optim.end()));
    } catch (const Error& e) {
      throw ConfigError("checkpoint '" + dir_file(kCheckpointFile) + "' does not fit this model config: " + e.what());
    }
    const json& ts = ck.train_state;
    try {
      loader_.set_state(LoaderState::from_json(ts.at("loader")));
      window_ = sums_from_json(ts.at("window"));
      elapsed_before_ = ts.at("elapsed_s").get<double>();
      if (ts.contains("final")) final_ = ts.at("final");
      checkpoint_step_ = ck.step;
    } catch (const json::exception& e) {
      throw DataError("checkpoint in '" + opt_.out_dir + "': bad train_state (" + e.what() + ")");
    }
    step_ = ck.step;
    start_step_ = ck.step;
    write_json_file(dir_file("config.json"), ex_.config);
    log_.emplace(opt_.out_dir, ck.step);
  }

  RunResult run() {
    InterruptGuard guard;
    t0_ = std::chrono::steady_clock::now();
    if (step_ >= total_) {
      // A completed run's final checkpoint comes after its final evaluation: nothing is left.
      std::ifstream in(dir_file("summary.json"));
      RunResult done;
      done.step = step_;
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (in.is_open() && !json_too_deep(text)) done.summary = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (done.summary.is_object() && done.summary.value("status", "") == "completed") {
        progress_.line("run already complete (" + std::to_string(step_) + "/" + std::to_string(total_) + " steps)");
        return done;
      }
      // Killed between the final checkpoint (which holds the final evaluation) and
      // summary.json: evaluating again would log the final records twice.
      if (final_.contains("test")) return finish(RunStatus::completed, "");
    }
    if (step_ == 0)
      progress_.line("training " + std::to_string(total_) + " steps, " +
                     std::to_string(ex_.model->num_parameters()) + " parameters, run folder " + opt_.out_dir);
    else
      progress_.line("resuming at step " + std::to_string(step_) + "/" + std::to_string(total_));
    ex_.model->train();
    while (step_ < total_) {
      Batch batch = loader_.next();
      ex_.optim->set_lr(ex_.schedule.lr_at(step_));
      Tensor out = ex_.model->forward_batch(batch);
      TaskLoss tl = task_loss(task_, out, batch);
      const double loss = tl.loss.item();
      if (!std::isfinite(loss))
        return diverged("loss is " + std::string(std::isnan(loss) ? "NaN" : "infinite") + " at step " +
                        std::to_string(step_ + 1));
      ex_.optim->zero_grad();
      tl.loss.backward();
      ex_.optim->step();
      ++step_;
      window_.add(loss, tl);

      const double elapsed = seconds();
      const double rate = (step_ - start_step_) / std::max(elapsed, 1e-9);
      const bool log_now = step_ % ex_.train.log_interval == 0 || step_ == total_;
      progress_.status(step_, total_, window_.loss(), metric_, window_.metric(), rate, elapsed, log_now);
      if (log_now) {
        json r = record("train", "train", window_);
        r["lr"] = ex_.optim->get_lr();
        r["timing"]["steps_per_s"] = rate;
        log_->write(r);
        window_ = MetricSums{};
      }
      if (ex_.train.eval_interval > 0 && step_ % ex_.train.eval_interval == 0 && step_ != total_)
        evaluate_val();
      // A stop request during the last step just lets the run finish normally.
      const bool stop = (interrupt_requested() || step_ == opt_.stop_after_step) && step_ < total_;
      const bool periodic = ex_.train.checkpoint_interval > 0 && step_ % ex_.train.checkpoint_interval == 0;
      if (stop || (periodic && step_ != total_)) {
        if (!save_checkpoint_checked()) return diverged("weights became non-finite by step " + std::to_string(step_));
        if (stop)
          return finish(RunStatus::interrupted, "interrupted at step " + std::to_string(step_) +
                                                    "; checkpoint saved, continue with --resume " + opt_.out_dir);
      }
    }
    // Final evaluation: val (and its batch-statistics twin for BN models) and test.
    const json val = evaluate_val();
    const json test = evaluate("test", ex_.data->test, false);
    report(test);
    final_["val"] = val;
    final_["test"] = test;
    if (!save_checkpoint_checked()) return diverged("weights became non-finite by step " + std::to_string(step_));
    return finish(RunStatus::completed, "");
  }

 private:
  std::string dir_file(const std::string& name) const { return opt_.out_dir + "/" + name; }
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

  json record(const std::string& split, const std::string& mode, const MetricSums& s) const {
    json r = json::object();
    r["step"] = step_;
    r["split"] = split;
    r["mode"] = mode;
    r["loss"] = s.loss();
    r[metric_] = s.metric();
    r["timing"] = {{"wall_s", elapsed_before_ + seconds()}};
    return r;
  }

  // Evaluates a split with the model in eval mode (running statistics), or with batch
  // statistics (train mode) for BN models: buffers are saved and restored around it so that
  // nothing the training sees changes.
  json evaluate(const std::string& split, const Dataset& data, bool batch_stats) {
    NoGradGuard no_grad;
    LoaderOptions lo = ex_.data->loader.for_eval();
    // Batch statistics need more than one value per feature: drop a final batch of one.
    if (batch_stats && data.size() > 1 && data.size() % lo.batch_size == 1) lo.drop_last = true;
    DataLoader loader(data, ex_.data->info, lo, ex_.seed);
    int64_t n = loader.batches_per_epoch();
    if (ex_.train.eval_batches > 0) n = std::min(n, ex_.train.eval_batches);
    std::map<std::string, Tensor> saved;
    if (batch_stats)
      for (const auto& [name, t] : ex_.model->named_buffers()) saved[name] = t.clone();
    ex_.model->train(batch_stats);
    MetricSums s;
    for (int64_t i = 0; i < n; ++i) {
      Batch b = loader.next();
      TaskLoss tl = task_loss(task_, ex_.model->forward_batch(b), b);
      s.add(tl.loss.item(), tl);
    }
    if (batch_stats) ex_.model->load_state_dict(saved, /*strict=*/false);
    ex_.model->train(true);
    return record(split, batch_stats ? "batch_stats" : "eval", s);
  }

  void report(const json& r) {
    log_->write(r);
    const bool bs = r["mode"] == "batch_stats";
    std::string text = "step " + std::to_string(step_) + "  " + r["split"].get<std::string>() +
                       (bs ? " (BN batch stats)" : "") + "  loss " + fmt(r["loss"].get<double>()) + "  " +
                       metric_ + " " + fmt(r[metric_].get<double>());
    if (bs) text += "  (train-mode minus eval-mode " + metric_ + ": " + fmt(r["gap"][metric_].get<double>()) + ")";
    progress_.line(text);
  }

  // Val in eval mode and, for BN models, in train mode with the gap between the two.
  json evaluate_val() {
    json r = evaluate("val", ex_.data->val, false);
    report(r);
    if (bn_ && ex_.train.bn_train_mode_eval) {
      json t = evaluate("val", ex_.data->val, true);
      t["gap"] = {{"loss", t["loss"].get<double>() - r["loss"].get<double>()},
                  {metric_, t[metric_].get<double>() - r[metric_].get<double>()}};
      report(t);
      r["batch_stats"] = {{"loss", t["loss"]}, {metric_, t[metric_]}, {"gap", t["gap"]}};
    }
    return r;
  }

  // Saves unless a weight or buffer is NaN/Inf (then the previous checkpoint is kept).
  bool save_checkpoint_checked() {
    if (!all_finite(*ex_.model)) return false;
    json ts = {{"loader", loader_.state().to_json()},
               {"window", sums_to_json(window_)},
               {"elapsed_s", elapsed_before_ + seconds()},
               {"seed", ex_.seed},
               {"final", final_}};
    NamedTensors optim_state;
    for (auto& [name, t] : ex_.optim->state_dict()) optim_state.emplace_back(name, t);
    save_checkpoint(dir_file(kCheckpointFile), *ex_.model, optim_state, step_, ex_.config, ts);
    checkpoint_step_ = step_;
    return true;
  }

  RunResult diverged(const std::string& what) {
    std::string msg = what + "; stopping. ";
    if (checkpoint_step_ >= 0)
      msg += "The last good checkpoint (step " + std::to_string(checkpoint_step_) + ") is " + dir_file(kCheckpointFile);
    else
      msg += "No checkpoint was written before it.";
    return finish(RunStatus::diverged, msg);
  }

  RunResult finish(RunStatus status, const std::string& message) {
    RunResult res;
    res.status = status;
    res.step = step_;
    res.message = message;
    const double wall = elapsed_before_ + seconds();
    const char* names[] = {"completed", "interrupted", "diverged"};
    json& s = res.summary;
    s["status"] = names[static_cast<int>(status)];
    s["steps"] = step_;
    s["total_steps"] = total_;
    s["task"] = task_name(task_);
    s["metric"] = metric_;
    s["parameters"] = ex_.model->num_parameters();
    s["has_batchnorm"] = bn_;
    s["final"] = final_;
    s["wall_s"] = wall;
    s["steps_per_s"] = (step_ - start_step_) / std::max(seconds(), 1e-9);
    if (!message.empty()) s["message"] = message;
    write_json_file(dir_file("summary.json"), s);
    if (status == RunStatus::completed && final_.contains("test"))
      progress_.line("done: " + std::to_string(step_) + " steps in " + Progress::duration(wall) + ", test " +
                     metric_ + " " + fmt(final_["test"][metric_].get<double>()) + "; run folder " + opt_.out_dir);
    return res;
  }

  Experiment& ex_;
  RunOptions opt_;
  TaskKind task_;
  std::string metric_;
  DataLoader loader_;
  int64_t total_;
  Progress progress_;
  bool bn_;
  std::optional<MetricsLog> log_;
  MetricSums window_;  // train metrics since the last log line
  int64_t step_ = 0, start_step_ = 0, checkpoint_step_ = -1;
  double elapsed_before_ = 0;  // wall time of earlier sessions of this run
  std::chrono::steady_clock::time_point t0_;
  json final_ = json::object();
};

}  // namespace

RunResult train_experiment(Experiment& ex, const RunOptions& opt) {
  Trainer t(ex, opt);
  t.start();
  return t.run();
}

RunResult resume_run(const std::string& dir, const std::vector<std::string>& overrides, RunOptions opt) {
  const std::string path = dir + "/" + kCheckpointFile;
  // A run killed while writing a checkpoint leaves its temporary file (the checkpoint itself
  // is whole: the temporary is renamed over it only when complete).
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().rfind(std::string(kCheckpointFile) + ".tmp-", 0) == 0) fs::remove(e.path());
  if (!fs::exists(path) && fs::exists(dir + "/config.json")) {
    // Stopped before its first checkpoint: start the run over from its effective config
    // (same seed, so the result is the same as if it had never stopped).
    json cfg = load_json_file(dir + "/config.json");
    for (const std::string& o : overrides) apply_override(cfg, o);
    Experiment ex = build_experiment(cfg);
    opt.out_dir = dir;
    Trainer t(ex, opt);
    t.restart();
    return t.run();
  }
  if (!fs::exists(path)) throw DataError("cannot resume: no checkpoint at '" + path + "'");
  Checkpoint ck = load_checkpoint(path);
  json cfg = ck.config;
  for (const std::string& o : overrides) apply_override(cfg, o);
  Experiment ex = build_experiment(cfg);
  opt.out_dir = dir;
  Trainer t(ex, opt);
  t.restore(ck);
  return t.run();
}

}  // namespace nl
