// SyncBatchNorm: statistics gathered and merged over ranks, normalisation, and the backward
// with its one all-reduce (see the header).
#include "layers/kernels/sync_batchnorm.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/distributed.h"
#include "core/error.h"
#include "layers/kernels/batchnorm.h"

namespace nl {

SyncBatchStats merge_rank_moments(const double* records, int ranks, int64_t C) {
  const size_t Cs = static_cast<size_t>(C);
  SyncBatchStats s;
  s.mean.assign(Cs, 0.0);
  s.m2.assign(Cs, 0.0);
  const int64_t width = 2 * C + 2;
  // Rank order, the same on every rank: identical bits everywhere.
  for (int r = 0; r < ranks; ++r) {
    const double* rec = records + r * width;
    const int64_t rows = static_cast<int64_t>(rec[0]), nb = static_cast<int64_t>(rec[1]);
    s.rows += rows;
    if (nb == 0) continue;  // nothing valid on that rank (its mean/M2 are placeholders)
    if (s.count == 0) {
      std::copy(rec + 2, rec + 2 + C, s.mean.begin());
      std::copy(rec + 2 + C, rec + 2 + 2 * C, s.m2.begin());
    } else {
      kernels::chan_merge(s.mean.data(), s.m2.data(), s.count, rec + 2, rec + 2 + C, nb, C);
    }
    s.count += nb;
  }
  return s;
}

SyncBatchStats sync_batch_stats(const Tensor& x, const Tensor& mask) {
  const int64_t C = x.size(-1);
  const int64_t R = x.numel() / std::max<int64_t>(1, C);
  std::vector<double> mine(static_cast<size_t>(2 * C + 2));
  mine[0] = static_cast<double>(R);
  mine[1] = static_cast<double>(kernels::batchnorm_moments(
      x.data(), mask.defined() ? mask.data() : nullptr, R, C, mine.data() + 2, mine.data() + 2 + C));
  if (!dist::collectives_enabled()) return merge_rank_moments(mine.data(), 1, C);
  const int ranks = dist::size();
  std::vector<double> all(mine.size() * static_cast<size_t>(ranks));
  dist::allgather(mine.data(), static_cast<int64_t>(mine.size()), all.data());
  return merge_rank_moments(all.data(), ranks, C);
}

Tensor sync_batch_norm(const Tensor& x, const Tensor& mask, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var,
                       const SyncBatchStats& stats, float momentum, float eps) {
  check_batch_norm_inputs(x, mask, weight, bias, running_mean, running_var, eps);
  const int64_t C = x.size(-1);
  const int64_t R = x.numel() / std::max<int64_t>(1, C);
  if (static_cast<int64_t>(stats.mean.size()) != C || static_cast<int64_t>(stats.m2.size()) != C)
    throw ShapeError("sync_batch_norm: statistics of " + std::to_string(stats.mean.size()) +
                     " features for input " + shape_str(x.shape()));
  const int64_t n = stats.count;
  if (n <= 1)
    throw ValueError("batch_norm: expected more than 1 value per channel when training, got " +
                     std::to_string(n) + " valid position(s) over all " +
                     std::to_string(dist::size()) + " ranks (this rank's input " +
                     shape_str(x.shape()) + "; use a larger batch, LayerNorm, or eval mode)");
  const Shape feat{C};
  Tensor mean = Tensor::empty(feat), mean_lo = Tensor::empty(feat), rstd = Tensor::empty(feat);
  kernels::batchnorm_finish_stats(stats.mean.data(), stats.m2.data(), n, C, eps, mean.data(),
                                  mean_lo.data(), nullptr, rstd.data());
  if (running_mean.defined() && running_var.defined()) {
    // PyTorch's convention (as batch_norm): momentum weights the new value; running_var gets the
    // unbiased variance. From the merged doubles, so every rank stores the same values.
    const double m = momentum, inv = 1.0 / static_cast<double>(n - 1);
    float* rm = Tensor(running_mean).data();
    float* rv = Tensor(running_var).data();
    for (int64_t c = 0; c < C; ++c) {
      rm[c] = static_cast<float>((1.0 - m) * rm[c] + m * stats.mean[c]);
      rv[c] = static_cast<float>((1.0 - m) * rv[c] + m * std::max(0.0, stats.m2[c]) * inv);
    }
  }
  Tensor y = Tensor::empty(x.shape());
  kernels::batchnorm_apply(x.data(), mask.defined() ? mask.data() : nullptr,
                           weight.defined() ? weight.data() : nullptr,
                           bias.defined() ? bias.data() : nullptr, mean.data(), mean_lo.data(),
                           rstd.data(), R, C, y.data());
  if (needs_grad({&x, &weight, &bias})) {
    // Whether the forward communicated is fixed here, not at backward time: every rank that
    // gathered in the forward must join the all-reduce in the backward.
    const bool reduce = dist::collectives_enabled();
    record(y, "sync_batch_norm", {x, weight, bias},
           [x, mask, weight, mean, mean_lo, rstd, R, C, n, reduce](const Tensor& dy, GradSink& sink) {
             const kernels::NormGrads g = kernels::norm_grad_targets(sink);
             const float* pm = mask.defined() ? mask.data() : nullptr;
             std::vector<double> local(static_cast<size_t>(2 * C)), global;
             kernels::batchnorm_grad_sums(dy.data(), x.data(), pm, mean.data(), mean_lo.data(), R,
                                          C, local.data());
             const double* dx_sums = local.data();
             // dx needs the sums over every rank's rows; dgamma/dbeta stay local (the trainer
             // all-reduces parameter gradients). Same graph on every rank: same decision.
             if (g.dx && reduce) {
               global = local;
               dist::allreduce_sum(global.data(), 2 * C);
               dx_sums = global.data();
             }
             kernels::batchnorm_backward_finish(dy.data(), x.data(), pm,
                                                weight.defined() ? weight.data() : nullptr,
                                                mean.data(), mean_lo.data(), rstd.data(), R, C,
                                                local.data(), dx_sums, n, true, g);
           });
  }
  return y;
}

}  // namespace nl
