// The sweep runner: expands each experiment's grid and runs every cell as its own
// `normlab train` process (a crash or divergence of one run is recorded, not fatal),
// `jobs` processes at once with threads = cores / jobs each, a one-line progress display
// (runs done / total, failures, ETA), Ctrl-C stops cleanly (children checkpoint, the index is
// written), and rerunning the same sweep skips finished runs and redoes unfinished ones.
//
// Sweep folder:
//   SWEEP/sweep.json                 the index (see below), rewritten atomically (tmp + rename)
//   SWEEP/.lock                      held by the sweep and its runs (lab/sweep_lock.h): a rerun
//                                    waits for the runs of a killed sweep to stop
//   SWEEP/NAME/experiment.json       the spec as run (profile applied)
//   SWEEP/NAME/RUN_ID/config.json    ... the normlab train run folder (metrics.jsonl,
//   SWEEP/NAME/RUN_ID/summary.json        summary.json, checkpoint.safetensors) plus
//   SWEEP/NAME/RUN_ID/log.txt             the process's stdout+stderr
//   SWEEP/NAME/RUN_ID.json           the full config the run was started from
// sweep.json: {"format": 1, "profile": "quick", "updated": "...",
//   "experiments": [{"name", "spec_file", "profile", "spec": <spec json>,
//     "runs": [{"id", "cell_id", "cell": {...}, "seed", "dir": "NAME/RUN_ID",
//               "status": "completed"|"diverged"|"failed"|"interrupted"|"pending",
//               "exit_code": int|null, "wall_s": number|null, "error": "last line of stderr"}]}]}
// A run is finished when its summary.json says completed or diverged (deterministic: not
// rerun); failed (crash, non-zero exit without a summary) and interrupted runs are redone;
// a run folder with a checkpoint is continued with `train --resume`, one without is cleared.
// A run exiting with code 2 (config error) stops the whole sweep: every run would fail alike.
//
// Runs of a "ranks" axis value N > 1 are started under mpirun (lab/launch.h), one thread per
// rank, and take min(N, jobs) of the `jobs` slots (so at --jobs 1, or N >= jobs, such a run
// runs alone); runs start in grid order, a run that does not fit waits for slots to free up.
// Ctrl-C: the sweep sends one SIGINT to each rank (the processes mpirun started), not to mpirun
// (which would SIGTERM and then kill them); mpirun then exits with the ranks' code (130). As
// root, mpirun runs get OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 when
// those are unset (said once in the output).
#pragma once
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "core/distributed.h"
#include "lab/spec.h"

namespace nl::lab {

struct SweepOptions {
  std::string out_dir;           // the sweep folder
  std::string normlab_exe;       // the normlab binary to run (the CLI passes /proc/self/exe)
  std::string profile;           // "" = full
  int jobs = 1;                  // processes at once
  int threads_per_job = 0;       // 0: max(1, cores / jobs)
  bool tty = false;              // progress line rewritten in place
  bool quiet = false;
  bool dry_run = false;          // list the runs (and which are already finished), run nothing
                                 // (with the full command line of each mpirun run)
  std::string mpirun;            // for runs with ranks > 1: a path or a name in PATH ("" = mpirun)
  bool exe_has_mpi = nl::dist::built_with_mpi();  // normlab_exe was built with MPI (the CLI runs
                                                  // itself; tests may say otherwise)
  std::ostream* out = &std::cout;
};

struct SweepResult {
  int total = 0, skipped = 0, completed = 0, diverged = 0, failed = 0, interrupted = 0;
  bool stopped = false;          // Ctrl-C
  double wall_s = 0;
};

SweepResult run_sweep(const std::vector<ExperimentSpec>& experiments, const SweepOptions& opt);

// Reads SWEEP/sweep.json (DataError naming the file when missing or malformed).
json read_sweep_index(const std::string& sweep_dir);

}  // namespace nl::lab
