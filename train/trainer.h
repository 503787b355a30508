// The training run: the loop (forward, loss, backward, optimizer step), periodic logging and
// evaluation, checkpoints, Ctrl-C, NaN detection, resume, and the run folder:
//   config.json              the effective config
//   metrics.jsonl / .csv     one record per logged event (train, val, test)
//   checkpoint.safetensors   weights, buffers, optimizer state, step, loader/RNG state
//   summary.json             final metrics, wall time, steps/s, parameter count, status
// Under MPI every rank runs the same loop on its rows of each global batch; gradients are
// summed over ranks and rank 0 alone logs, evaluates and writes the folder (docs/distributed.md).
#pragma once
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "train/experiment.h"

namespace nl {

struct RunOptions {
  std::string out_dir;          // the run folder (created; must not already hold a run)
  bool quiet = false;           // no progress or log lines
  bool tty = false;             // progress as a line rewritten in place
  std::ostream* out = &std::cout;
  int64_t stop_after_step = 0;  // > 0: behave as if Ctrl-C came during this step (tests)
};

enum class RunStatus { completed, interrupted, diverged };

struct RunResult {
  RunStatus status = RunStatus::completed;
  int64_t step = 0;     // steps done when the run stopped
  std::string message;  // for interrupted/diverged: what happened and where the checkpoint is
  json summary;         // what summary.json holds
};

// Trains a freshly built experiment in opt.out_dir.
RunResult train_experiment(Experiment& ex, const RunOptions& opt);

// Continues the run in `dir` from its checkpoint. The config is the checkpoint's, with
// `overrides` (--set) applied on top; the experiment is rebuilt from it and restored.
RunResult resume_run(const std::string& dir, const std::vector<std::string>& overrides, RunOptions opt);

// Whether any module in the tree is a BatchNorm (its type name contains "BatchNorm").
bool has_batchnorm(const Module& m);

}  // namespace nl
