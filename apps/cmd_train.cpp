// `normlab train`: build an experiment from a JSON config (+ --set overrides), train it into a
// run folder, or resume a run. Exit codes: 0 done, 1 error or NaN/Inf loss, 2 config error,
// 130 interrupted by Ctrl-C (a checkpoint was saved). Under mpirun every rank runs this with the
// same arguments (data-parallel training, docs/distributed.md).
#include <ctime>
#include <filesystem>
#include <iostream>

#include "apps/commands.h"
#include "core/distributed.h"
#include "core/error.h"
#include "core/threading.h"
#include "train/experiment.h"
#include "train/progress.h"
#include "train/trainer.h"

namespace nl::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string out;
  std::string resume;
  int threads = 0;
  bool quiet = false;
};

std::string default_out_dir(const std::string& config_path) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return "runs/" + std::filesystem::path(config_path).stem().string() + "-" + stamp;
}

void run_train(const TrainArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  RunOptions opt;
  opt.quiet = a.quiet;
  // Open MPI hands each rank a pseudo-terminal even when mpirun's own output is a file: under
  // MPI, progress is printed as plain lines.
  opt.tty = stdout_is_tty() && !dist::active();
  RunResult r;
  if (!a.resume.empty()) {
    if (!a.config.empty())
      throw ConfigError("give either CONFIG.json or --resume DIR, not both (a resumed run uses the "
                        "config saved in its checkpoint; change keys with --set)");
    if (!a.out.empty()) throw ConfigError("--out cannot be combined with --resume (the run continues in its folder)");
    r = resume_run(a.resume, a.sets, opt);
  } else {
    if (a.config.empty()) throw ConfigError("missing CONFIG.json (or --resume DIR); see 'normlab train --help'");
    Experiment ex = build_experiment(load_config_with_overrides(a.config, a.sets));
    opt.out_dir = a.out.empty() ? default_out_dir(a.config) : a.out;
    r = train_experiment(ex, opt);
  }
  switch (r.status) {
    case RunStatus::completed:
      exit_code_ref() = 0;
      break;
    case RunStatus::interrupted:  // every rank stops at the same step; rank 0 says so
      if (dist::is_root()) std::cerr << "normlab: " << r.message << "\n";
      exit_code_ref() = 130;
      break;
    case RunStatus::diverged:
      if (dist::is_root()) std::cerr << "normlab: error: " << r.message << "\n";
      exit_code_ref() = 1;
      break;
  }
}

}  // namespace

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand(
      "train",
      "Train a model from a JSON config into a run folder (config.json, metrics.jsonl, metrics.csv, "
      "checkpoint.safetensors, summary.json). Every config key is documented in docs/config.md "
      "('normlab config --markdown'); 'normlab config --defaults MODEL' prints a full config.");
  cmd->add_option("config", a->config, "The run config (JSON): sections seed, data, model, train, optim");
  cmd->add_option("--set", a->sets,
                  "Override one key, KEY=VALUE with a dotted key and a JSON value (a bare word is a "
                  "string), e.g. --set optim.lr=3e-4 --set model.norm.type=batchnorm. Repeatable; "
                  "applied after the file")
      ->type_name("KEY=VALUE")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);  // one value per --set
  cmd->add_option("--out", a->out, "Run folder to create (default: runs/<config name>-<date>-<time>)")
      ->type_name("DIR");
  cmd->add_option("--threads", a->threads,
                  "Threads for OpenBLAS and normlab's loops (default: $NORMLAB_THREADS or the CPUs this process may use / MPI "
                  "ranks on this machine; "
                  "results are bit-identical for a given seed and thread count)")
      ->check(thread_count());
  cmd->add_option("--resume", a->resume,
                  "Continue the run in DIR from its checkpoint.safetensors; the result is bit-identical "
                  "to an uninterrupted run (same thread count and rank count)")
      ->type_name("DIR");
  cmd->add_flag("--quiet,-q", a->quiet, "Print no progress or log lines (errors still go to stderr)");
  cmd->footer(
      "Ctrl-C saves a checkpoint at the end of the current step and exits with 130; a NaN/Inf loss "
      "stops the run (exit 1) keeping the last good checkpoint; config errors exit with 2.");
  cmd->callback([a] { run_train(*a); });
}

}  // namespace nl::cli
