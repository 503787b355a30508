// BatchNorm across ranks (SyncBatchNorm, docs/distributed.md): the batch statistics of a
// training step computed over the rows of EVERY rank of the process group (core/distributed.h),
// so N ranks with a shard each normalise exactly as one process with the whole batch would.
//
// Forward: each rank reduces its rows to (rows, valid count, per-feature mean, per-feature
// centred sum of squares M2) in double — 2C + 2 values — and all-gathers them; every rank then
// merges the gathered groups in rank order with Chan et al.'s pairwise update (Chan, Golub &
// LeVeque 1979), so all ranks hold the same bits. Never E[x^2] - E[x]^2: with a large mean that
// difference cancels catastrophically.
// Backward: the two per-feature sums the batch-statistics gradient needs (Σ dy and Σ dy·x̂ over
// valid rows) are all-reduced in one call of 2C doubles when dx is wanted; dgamma/dbeta stay
// the rank-local sums (the trainer's gradient all-reduce adds them over ranks).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace nl {

// The batch statistics of every rank's rows, merged.
struct SyncBatchStats {
  int64_t rows = 0;          // rows over all ranks (valid or not)
  int64_t count = 0;         // valid rows over all ranks
  std::vector<double> mean;  // (C) mean over the valid rows; 0 when count == 0
  std::vector<double> m2;    // (C) Σ (x - mean)^2 over the valid rows
};

// Merges `ranks` gathered records of 2C + 2 doubles each ([rows, count, mean(C), m2(C)], in rank
// order) with Chan et al.'s update; records with count 0 contribute only their rows.
SyncBatchStats merge_rank_moments(const double* records, int ranks, int64_t C);

// This rank's x viewed as (R, C) with an optional row mask (undefined = every row valid) ->
// the statistics over every rank (one dist::allgather of 2C + 2 doubles). Every rank must call
// it at the same point; in a world of one (or a LocalScope) it is this process's statistics.
SyncBatchStats sync_batch_stats(const Tensor& x, const Tensor& mask);

// batch_norm() in training mode with the given global statistics (stats.count > 1, else the
// ValueError of batch_norm naming the ranks): normalises with the global mean and biased
// variance M2/count, updates running_mean/running_var (when defined) with the global mean and
// unbiased variance M2/(count-1) (identical on every rank), and records a backward that
// all-reduces Σ dy and Σ dy·x̂ (2C doubles) when x needs a gradient. Masked rows: output 0, no
// gradient.
Tensor sync_batch_norm(const Tensor& x, const Tensor& mask, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var,
                       const SyncBatchStats& stats, float momentum = 0.1f, float eps = 1e-5f);

}  // namespace nl
