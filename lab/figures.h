// What the report plots for an experiment (lab/figures.cpp): (a) the primary metric vs batch
// size and vs ranks (a "ranks" axis) per variant with 95 % CI bars, (b) learning curves (train
// loss vs step and vs wall time, mean over seeds with a min/max band, diverged runs marked
// where they end), (c) BN's train-mode vs eval-mode metric per cell, (d) the metric per
// sequence-length bucket. Each figure exists only when the sweep has the data for it.
#pragma once
#include <string>
#include <vector>

#include "lab/plot.h"
#include "lab/results.h"

namespace nl::lab {

std::vector<Plot> experiment_figures(const ExperimentResults& er);

// BN's batch-statistics evaluation per cell (runs whose final.val has "batch_stats").
struct BnGapRow {
  const CellResult* cell = nullptr;
  std::string metric;              // the metric's name in the run's summary, e.g. "accuracy"
  CellStats eval_mode, batch_stats, gap;  // gap = batch_stats - eval_mode, per run
  int batch_size = 0;              // final.val.batch_stats.batch_size when recorded (0: unknown)
};
std::vector<BnGapRow> bn_gap_rows(const ExperimentResults& er);

}  // namespace nl::lab
