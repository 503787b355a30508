// `normlab sweep`: runs every cell of one or more experiment specs as its own `normlab train`
// process into a sweep folder (lab/sweep.h). Exit codes: 0 every run finished (completed or
// diverged), 1 some run failed, 2 bad experiment file or a run's config error, 130 Ctrl-C.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <unistd.h>

#include "apps/commands.h"
#include "core/error.h"
#include "lab/spec.h"
#include "lab/sweep.h"
#include "train/progress.h"

namespace nl::cli {

namespace {

struct SweepArgs {
  std::vector<std::string> experiments;
  std::string out;
  std::string profile;
  std::string mpirun;
  int jobs = 1;
  int run_threads = 0;
  bool dry_run = false;
  bool quiet = false;
};

void run_sweep_cmd(const SweepArgs& a) {
  std::vector<lab::ExperimentSpec> specs;
  for (const std::string& path : a.experiments) specs.push_back(lab::load_experiment(path));

  lab::SweepOptions opt;
  const bool full = a.profile.empty() || a.profile == "full";
  opt.out_dir = a.out.empty() ? "sweeps/" + specs.front().name + (full ? "" : "-" + a.profile) : a.out;
  opt.normlab_exe = std::filesystem::read_symlink("/proc/self/exe").string();
  opt.profile = a.profile;
  opt.jobs = a.jobs;
  opt.threads_per_job = a.run_threads;
  opt.tty = stdout_is_tty();
  opt.quiet = a.quiet;
  opt.dry_run = a.dry_run;
  opt.mpirun = a.mpirun;

  const lab::SweepResult r = lab::run_sweep(specs, opt);
  if (a.dry_run) return;
  std::cout << "sweep " << (r.stopped ? "stopped" : "done") << ": " << r.completed << " completed, " << r.diverged
            << " diverged, " << r.failed << " failed, " << r.skipped << " skipped (finished before)";
  if (r.interrupted > 0) std::cout << ", " << r.interrupted << " interrupted";
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1fs", r.wall_s);
  std::cout << " in " << (r.wall_s < 60 ? std::string(secs) : Progress::duration(r.wall_s)) << "\n";
  if (r.stopped) {
    std::cout << "rerun the same command to finish the missing runs\n";
    exit_code_ref() = 130;
    return;
  }
  std::cout << "next: normlab report " << opt.out_dir << "\n";
  if (r.failed > 0) exit_code_ref() = 1;
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Run every cell of one or more experiment specs (experiments/*.json), each as its own "
      "'normlab train' process, into one sweep folder; then 'normlab report DIR' makes the report.");
  cmd->add_option("experiments", a->experiments, "Experiment spec files (JSON; format in docs/experiments.md)")
      ->required()
      ->check(CLI::ExistingFile)
      ->type_name("EXPERIMENT.json");
  cmd->add_option("--out", a->out,
                  "The sweep folder (default: sweeps/<first experiment's name>, plus -<profile> with --profile)")
      ->type_name("DIR");
  cmd->add_option("--profile", a->profile,
                  "Run the spec's named profile (e.g. quick: fewer seeds or steps); 'full' or none = as written")
      ->type_name("NAME");
  cmd->add_option("--jobs,-j", a->jobs, "Training processes at once (default 1)")->check(CLI::PositiveNumber);
  cmd->add_option("--run-threads", a->run_threads,
                  "Threads per training process (default: cores / jobs, at least 1). Results are "
                  "bit-identical for a given seed and thread count")
      ->check(CLI::PositiveNumber)
      ->type_name("N");
  cmd->add_option("--mpirun", a->mpirun,
                  "The MPI launcher for runs of a \"ranks\" grid axis value > 1 (a path, or a name looked up "
                  "in PATH; default: mpirun from PATH)")
      ->type_name("PATH");
  cmd->add_flag("--dry-run", a->dry_run,
                "List the runs and what would happen to each (with the command line of each mpirun run); run "
                "nothing");
  cmd->add_flag("--quiet,-q", a->quiet, "No progress display (failures and the summary are still printed)");
  cmd->footer(
      "The sweep folder holds sweep.json (the index: every run of the grid with its cell, seed, "
      "status, exit code, wall time and error), and per experiment NAME/experiment.json (the spec "
      "as run) and per run NAME/RUN_ID.json (its full config) and NAME/RUN_ID/ (the train run "
      "folder: metrics, checkpoint, summary.json, log.txt with the process's output).\n"
      "A run that crashes or diverges is recorded and the sweep goes on; a run with a config error "
      "stops the sweep (exit 2). Rerunning the same command skips finished runs (completed or "
      "diverged), continues interrupted ones from their checkpoint and starts failed ones again; "
      "runs whose config changed in the spec start again.\n"
      "A \"ranks\" grid axis starts a run with N > 1 as 'mpirun --oversubscribe --bind-to none -np N "
      "normlab --threads 1 train ...'; it takes N of the --jobs slots (all of them when N >= --jobs). "
      "As root, the OMPI_ALLOW_RUN_AS_ROOT variables are set for those runs.\n"
      "Ctrl-C (or SIGTERM) starts no new run, lets the running ones save a checkpoint, writes "
      "sweep.json and exits 130; a second Ctrl-C kills the runs at once.\n"
      "Exit codes: 0 all runs finished, 1 some run failed, 2 bad experiment file or config error, "
      "130 interrupted.");
  cmd->callback([a] { run_sweep_cmd(*a); });
}

}  // namespace nl::cli
