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
#include "core/distributed.h"
#include "core/error.h"
#include "core/json_depth.h"
#include "data/loader.h"
#include "train/causal_probe.h"
#include "train/checkpoint.h"
#include "train/evaluation.h"
#include "train/gradient_sync.h"
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

// What every rank contributes after its forward pass, summed over ranks by ONE collective: the
// global batch's loss sum and count (for the loss weighting and the log), its metric sum, and
// the flags that make every rank take the same branch (NaN/Inf loss somewhere, stop request
// somewhere). In a world of one the sums are this process's values.
struct StepTotals {
  double loss_sum = 0, count = 0, metric_sum = 0, nan = 0, inf = 0, stop = 0;
};

StepTotals reduce_step(double loss, const TaskLoss& tl, bool stop_requested) {
  double v[6] = {loss * tl.count, tl.count, tl.metric_sum, std::isnan(loss) ? 1.0 : 0.0,
                 std::isinf(loss) ? 1.0 : 0.0, stop_requested ? 1.0 : 0.0};
  dist::allreduce_sum(v, 6);
  return StepTotals{v[0], v[1], v[2], v[3], v[4], v[5]};
}

// A decision made on rank 0 (e.g. "the checkpoint was saved"), the same on every rank.
double from_root(double v) {
  dist::broadcast(&v, 1, 0);
  return v;
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
        progress_(*opt.out, opt.tty, opt.quiet || !dist::is_root()),
        bn_(has_batchnorm(*ex.model)),
        sync_(ex.model->named_parameters()) {
    check_shardable();
  }

  // Starts a new run (the folder must not hold a run yet).
  void start() {
    if (!root_) return;  // rank 0 alone writes the run folder
    fs::create_directories(opt_.out_dir);
    if (fs::exists(dir_file(kCheckpointFile)) || fs::exists(dir_file("metrics.jsonl")))
      throw ConfigError("run folder '" + opt_.out_dir + "' already holds a run (continue it with --resume " +
                        opt_.out_dir + ", or choose another --out)");
    write_json_file(dir_file("config.json"), ex_.config);
    log_.emplace(opt_.out_dir);
  }

  // Starts over in a folder whose run was stopped before its first checkpoint.
  void restart() {
    if (!root_) return;
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
    if (!root_) return;
    write_json_file(dir_file("config.json"), ex_.config);
    log_.emplace(opt_.out_dir, ck.step);
  }

  RunResult run() {
    InterruptGuard guard;
    t0_ = std::chrono::steady_clock::now();
    if (step_ >= total_) {
      // A completed run's final checkpoint comes after its final evaluation: nothing is left.
      // Rank 0 reads the folder and decides for every rank.
      RunResult done;
      done.step = step_;
      if (root_) {
        std::ifstream in(dir_file("summary.json"));
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (in.is_open() && !json_too_deep(text)) done.summary = json::parse(text, nullptr, /*allow_exceptions=*/false);
      }
      const bool complete = from_root(done.summary.is_object() && done.summary.value("status", "") == "completed");
      if (complete) {
        progress_.line("run already complete (" + std::to_string(step_) + "/" + std::to_string(total_) + " steps)");
        return done;
      }
      // Killed between the final checkpoint (which holds the final evaluation) and
      // summary.json: evaluating again would log the final records twice.
      if (final_.contains("test")) return finish(RunStatus::completed, "");
    }
    // Replicas start identical: rank 0's parameters and buffers (also after a resume).
    GradientSync::broadcast_from_root(state_list());
    dist::reset_comm_stats();
    if (step_ == 0)
      progress_.line("training " + std::to_string(total_) + " steps, " +
                     std::to_string(ex_.model->num_parameters()) + " parameters, run folder " + opt_.out_dir);
    else
      progress_.line("resuming at step " + std::to_string(step_) + "/" + std::to_string(total_));
    ex_.model->train();
    while (step_ < total_) {
      const auto step_t0 = std::chrono::steady_clock::now();
      const dist::CommStats comm0 = dist::comm_stats();
      Batch batch = loader_.next();  // the global batch: every rank reads the same one
      if (ranks_ > 1) {
        const int64_t B = batch.size();
        batch = slice_rows(batch, B * rank_ / ranks_, B * (rank_ + 1) / ranks_);
      }
      ex_.optim->set_lr(ex_.schedule.lr_at(step_));
      Tensor out = ex_.model->forward_batch(batch);
      TaskLoss tl = task_loss(task_, out, batch);
      const double loss = tl.loss.item();
      // A stop request seen by any rank before this point stops every rank after this step.
      const StepTotals g = reduce_step(loss, tl, interrupt_requested() || step_ + 1 == opt_.stop_after_step);
      if (g.nan > 0 || g.inf > 0)
        return diverged("loss is " + std::string(g.nan > 0 ? "NaN" : "infinite") + " at step " +
                        std::to_string(step_ + 1));
      ex_.optim->zero_grad();
      if (ranks_ > 1) {
        // Weighted so that the SUM of the rank gradients is the gradient of the global mean.
        tl.loss.backward(Tensor::full(tl.loss.shape(), static_cast<float>(tl.count / g.count)));
        sync_.allreduce_gradients();
      } else {
        tl.loss.backward();
      }
      ex_.optim->step();
      ++step_;
      if (ranks_ > 1) {
        window_.loss_sum += g.loss_sum;
        window_.metric_sum += g.metric_sum;
        window_.count += g.count;
        ++window_.batches;
      } else {
        window_.add(loss, tl);
      }
      const dist::CommStats comm1 = dist::comm_stats();
      step_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - step_t0).count();
      comm_calls_ += comm1.calls - comm0.calls;
      comm_bytes_ += comm1.bytes - comm0.bytes;
      comm_seconds_ += comm1.seconds - comm0.seconds;

      const double elapsed = seconds();
      const double rate = (step_ - start_step_) / std::max(elapsed, 1e-9);
      const bool log_now = step_ % ex_.train.log_interval == 0 || step_ == total_;
      progress_.status(step_, total_, window_.loss(), metric_, window_.metric(), rate, elapsed, log_now);
      if (log_now && root_) {
        json r = record("train", "train", window_);
        r["lr"] = ex_.optim->get_lr();
        r["timing"]["steps_per_s"] = rate;
        log_->write(r);
        window_ = MetricSums{};
      }
      if (ex_.train.eval_interval > 0 && step_ % ex_.train.eval_interval == 0 && step_ != total_ && root_) {
        const dist::LocalScope local;  // the other ranks wait at their next collective
        evaluate_val();
      }
      // A stop request during the last step just lets the run finish normally. One process
      // looks at its flag now; ranks use the flags summed in this step (the same on all).
      const bool stop = (ranks_ > 1 ? g.stop > 0 : interrupt_requested() || step_ == opt_.stop_after_step) &&
                        step_ < total_;
      const bool periodic = ex_.train.checkpoint_interval > 0 && step_ % ex_.train.checkpoint_interval == 0;
      if (stop || (periodic && step_ != total_)) {
        if (!save_checkpoint_checked()) return diverged("weights became non-finite by step " + std::to_string(step_));
        if (stop)
          return finish(RunStatus::interrupted, "interrupted at step " + std::to_string(step_) +
                                                    "; checkpoint saved, continue with --resume " + opt_.out_dir);
      }
    }
    // Final evaluation (rank 0): val (and its batch-statistics twin for BN models) and test.
    if (root_) {
      const dist::LocalScope local;
      const json val = evaluate_val();
      const json test = evaluate("test", ex_.data->test, false);
      report(test);
      final_["val"] = val;
      final_["test"] = test;
      if (task_ == TaskKind::language_model && ex_.train.causal_probe) final_["probe"] = probe();
    }
    if (!save_checkpoint_checked()) return diverged("weights became non-finite by step " + std::to_string(step_));
    return finish(RunStatus::completed, "");
  }

 private:
  std::string dir_file(const std::string& name) const { return opt_.out_dir + "/" + name; }

  // Every rank needs at least one row of every global batch (the final partial batch of an
  // epoch included), else its forward pass would have nothing to do.
  void check_shardable() const {
    if (ranks_ <= 1) return;
    const int64_t B = ex_.train.batch_size, n = ex_.data->train.size();
    const std::string who = std::to_string(ranks_) + " ranks";
    if (B < ranks_)
      throw ConfigError("train.batch_size " + std::to_string(B) + " is smaller than the number of ranks (" + who +
                        "): every rank needs at least one row of the global batch");
    const int64_t last = n % B;
    if (last > 0 && last < ranks_ && !ex_.data->loader.drop_last)
      throw ConfigError("the last batch of each epoch has " + std::to_string(last) + " rows (" + std::to_string(n) +
                        " training examples, train.batch_size " + std::to_string(B) + "), fewer than the " + who +
                        ": set data.loader.drop_last to true or change train.batch_size");
  }

  // Parameters and buffers by name (the same order on every rank).
  std::vector<std::pair<std::string, Tensor>> state_list() const {
    const auto sd = ex_.model->state_dict();
    return {sd.begin(), sd.end()};
  }

  // The cost of this session's training steps, under summary "final" (docs/distributed.md).
  void add_cost(json& final) const {
    const int64_t steps = step_ - start_step_;
    const double per = steps > 0 ? 1.0 / static_cast<double>(steps) : 0.0;
    final["timing"] = {{"ms_per_step", 1e3 * step_seconds_ * per}};
    final["comm"] = {{"calls_per_step", static_cast<double>(comm_calls_) * per},
                     {"bytes_per_step", static_cast<double>(comm_bytes_) * per},
                     {"ms_per_step", 1e3 * comm_seconds_ * per}};
  }

  static std::string cost_text(const json& final) {
    const json& c = final["comm"];
    std::ostringstream os;
    os.precision(3);
    os << final["timing"]["ms_per_step"].get<double>() << " ms/step, of which communication "
       << c["ms_per_step"].get<double>() << " ms in " << c["calls_per_step"].get<double>() << " calls ("
       << c["bytes_per_step"].get<double>() / 1024.0 << " KiB/step per rank)";
    return os.str();
  }
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
  // statistics (train mode) for BN models (train/evaluation.h: nothing the training sees
  // changes). Variable-length data also gets the metrics per length bucket ("by_length").
  json evaluate(const std::string& split, const Dataset& data, bool batch_stats) {
    EvalOptions eo;
    eo.batch_stats = batch_stats;
    eo.max_batches = ex_.train.eval_batches;
    eo.length_edges = ex_.train.length_buckets;
    if (batch_stats) {
      // Pitfall 14: splits stored class by class give one-class batches when read in order.
      // A shuffled order fixed by the run seed: the same every evaluation (resume-safe).
      eo.batch_size = ex_.train.bn_eval_batch_size > 0 ? ex_.train.bn_eval_batch_size : ex_.train.batch_size;
      eo.shuffle = true;
      eo.shuffle_seed = derive_seed(ex_.seed, "train/bn_eval/" + split);
    }
    const EvalResult res = evaluate_split(*ex_.model, task_, data, ex_.data->info, ex_.data->loader, eo);
    json r = record(split, batch_stats ? "batch_stats" : "eval", res.total);
    if (batch_stats) {
      r["batch_size"] = res.batch_size;
      r["shuffled"] = true;
    }
    if (!res.buckets.empty()) r["by_length"] = res.buckets.to_json(metric_);
    return r;
  }

  // The causal-leak probe (train/causal_probe.h) on the first test batch; the control's other
  // batch is the second test batch (the first val batch when test has only one).
  json probe() {
    LoaderOptions lo = ex_.data->loader.for_eval();
    DataLoader test(ex_.data->test, ex_.data->info, lo, ex_.seed);
    const Batch x = test.next();
    const Batch y = test.batches_per_epoch() > 1 ? test.next()
                                                 : DataLoader(ex_.data->val, ex_.data->info, lo, ex_.seed).next();
    json p;
    try {
      p = causal_probe(*ex_.model, x, y, ex_.data->info.vocab_size, derive_seed(ex_.seed, "train/causal_probe"));
    } catch (const ValueError& e) {  // e.g. a vocabulary too small to change a token: say so
      progress_.line(std::string("causal probe skipped: ") + e.what());
      return json{{"error", e.what()}};
    }
    auto g = [](const json& v) {
      std::ostringstream os;
      os.precision(4);
      os << v.get<double>();
      return os.str();
    };
    std::string text = "causal probe: largest change at t < T/2 when later tokens change: train mode " +
                       g(p["leak_train"]) + ", eval mode " + g(p["leak_eval"]);
    if (p.contains("loss_own_stats"))
      text += "; loss with own / another batch's / running statistics " + g(p["loss_own_stats"]) + " / " +
              g(p["loss_other_stats"]) + " / " + g(p["loss_running_stats"]);
    progress_.line(text);
    return p;
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
      r["batch_stats"] = {{"loss", t["loss"]},           {metric_, t[metric_]},       {"gap", t["gap"]},
                          {"batch_size", t["batch_size"]}, {"shuffled", t["shuffled"]}};
      if (t.contains("by_length")) r["batch_stats"]["by_length"] = t["by_length"];
    }
    return r;
  }

  // Saves unless a weight or buffer is NaN/Inf (then the previous checkpoint is kept).
  // Rank 0 writes; every rank learns whether it did.
  bool save_checkpoint_checked() {
    bool ok = true;
    if (root_) ok = save_checkpoint_on_root();
    ok = from_root(ok ? 1.0 : 0.0) != 0.0;
    if (ok) checkpoint_step_ = step_;
    return ok;
  }

  bool save_checkpoint_on_root() {
    if (!all_finite(*ex_.model)) return false;
    json ts = {{"loader", loader_.state().to_json()},
               {"window", sums_to_json(window_)},
               {"elapsed_s", elapsed_before_ + seconds()},
               {"seed", ex_.seed},
               {"final", final_}};
    NamedTensors optim_state;
    for (auto& [name, t] : ex_.optim->state_dict()) optim_state.emplace_back(name, t);
    save_checkpoint(dir_file(kCheckpointFile), *ex_.model, optim_state, step_, ex_.config, ts);
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
    s["ranks"] = ranks_;
    s["final"] = final_;
    add_cost(s["final"]);
    s["wall_s"] = wall;
    s["steps_per_s"] = (step_ - start_step_) / std::max(seconds(), 1e-9);
    if (!message.empty()) s["message"] = message;
    if (root_) {
      write_json_file(dir_file("summary.json"), s);
      if (status == RunStatus::completed && final_.contains("test"))
        progress_.line("done: " + std::to_string(step_) + " steps in " + Progress::duration(wall) + ", test " +
                       metric_ + " " + fmt(final_["test"][metric_].get<double>()) + "; run folder " + opt_.out_dir +
                       (ranks_ > 1 ? "; " + cost_text(s["final"]) : ""));
    }
    // No rank returns before rank 0 has written the folder (an early exit code could make the
    // launcher end the job while rank 0 still writes).
    dist::barrier();
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
  const int rank_ = dist::rank(), ranks_ = dist::size();
  const bool root_ = rank_ == 0;
  GradientSync sync_;
  // This session's training steps (forward to optimizer step): time and collectives.
  double step_seconds_ = 0, comm_seconds_ = 0;
  int64_t comm_calls_ = 0, comm_bytes_ = 0;
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
