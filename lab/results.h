// A sweep's results read back from its folder: each run's status and final metrics
// (summary.json), its learning curve (metrics.jsonl), and per cell and per claim the
// statistics (lab/stats.h). The report is written from this; tests build it from synthetic
// sweep folders.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lab/spec.h"
#include "lab/stats.h"

namespace nl::lab {

struct CurvePoint { int64_t step; double wall_s; double loss; };

struct RunResultRecord {
  std::string id, cell_id, dir, status;  // status as in sweep.json
  json cell;
  int64_t seed = 0;
  json final_metrics;                    // summary.json "final" (null when absent)
  std::vector<CurvePoint> train_curve;   // metrics.jsonl split=train records
  double wall_s = 0;
};

struct CellResult {
  std::string cell_id;
  json cell;
  std::vector<const RunResultRecord*> runs;
  int diverged = 0, failed = 0, pending = 0;
};

struct ClaimOutcome {
  std::string experiment;
  Claim claim;
  std::string better_cell, worse_cell;  // the cells compared (after tuning)
  ClaimVerdict verdict;                 // by the claim's test (Welch unless it says "paired")
  ClaimVerdict paired;                  // by seed, over the seeds both cells ran: the verdict
                                        // itself for a paired claim, else a second reading
  CellStats better_stats, worse_stats;
  std::string tuning;  // how each side's cell was chosen when the claim tunes ("" otherwise)
};

struct ExperimentResults {
  ExperimentSpec spec;
  std::string profile;
  std::vector<RunResultRecord> runs;
  std::vector<CellResult> cells;  // in grid order

  // CellResult::runs point into `runs`: copies re-point them at their own runs.
  ExperimentResults() = default;
  ExperimentResults(const ExperimentResults& o) { *this = o; }
  ExperimentResults& operator=(const ExperimentResults& o);
  ExperimentResults(ExperimentResults&&) noexcept = default;
  ExperimentResults& operator=(ExperimentResults&&) noexcept = default;

  // The metric over a cell's runs: completed runs' values, plus diverged_value for each
  // diverged run when the metric has one.
  std::vector<double> values(const CellResult& cell, const MetricSpec& m) const;
  // The same values keyed by the run's seed.
  std::map<int64_t, double> values_by_seed(const CellResult& cell, const MetricSpec& m) const;
  std::vector<ClaimOutcome> judge_claims() const;
};

// Reads every experiment of a sweep folder (sweep.json + run folders). A run's status is
// sweep.json's, except that a summary.json saying completed/diverged wins (the index may lag
// behind a sweep that was stopped). RunResultRecord::dir is the run folder's full path.
std::vector<ExperimentResults> load_results(const std::string& sweep_dir);

// The value at a dotted path ("test.accuracy", "test.by_length.0.accuracy") of a JSON object.
std::optional<double> metric_at(const json& final_metrics, const std::string& path);

}  // namespace nl::lab
