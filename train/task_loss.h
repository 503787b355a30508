// The loss and metric of each task kind: classification -> cross-entropy + accuracy,
// regression -> mean squared error (metric "mse"), language_model -> cross-entropy over the
// valid (unmasked) tokens of (B,T) + per-token accuracy. Metric sums are kept as counts so
// evaluations over many batches weight every example (or token) equally. On request the same
// sums are also split per example (for per-length-bucket evaluation).
#pragma once
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/batch.h"

namespace nl {

struct TaskLoss {
  Tensor loss;             // scalar, differentiable: mean over counted positions
  double metric_sum = 0;   // correct predictions (accuracy) or summed squared error (mse)
  double count = 0;        // counted examples (or tokens for language models)
  // Per example b (filled only when task_loss is asked for them): its summed loss over its
  // counted positions (computed in double from the output; its cross-entropy or squared error
  // for one-value targets, the sum over its valid tokens for language models), its metric sum
  // and its count. Summed over the batch they give loss * count, metric_sum and count.
  std::vector<double> example_loss, example_metric, example_count;
};

// "accuracy" or "mse".
const char* metric_name(TaskKind task);

// output: classification (B,C) logits; regression (B) or (B,1); language_model (B,T,V).
// Throws ShapeError when the output does not fit the batch's targets. per_example: also fill
// the example_* vectors (the loss tensor and the totals are the same either way).
TaskLoss task_loss(TaskKind task, const Tensor& output, const Batch& batch, bool per_example = false);

// Running sums over several batches (an evaluation, or the steps of one log interval).
struct MetricSums {
  double loss_sum = 0;    // sum of loss * count
  double metric_sum = 0;
  double count = 0;
  int64_t batches = 0;

  void add(double loss, const TaskLoss& t) {
    loss_sum += loss * t.count;
    metric_sum += t.metric_sum;
    count += t.count;
    ++batches;
  }
  double loss() const { return count > 0 ? loss_sum / count : 0.0; }
  double metric() const { return count > 0 ? metric_sum / count : 0.0; }
};

}  // namespace nl
