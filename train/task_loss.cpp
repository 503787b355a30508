// Loss and metric per task kind (see train/task_loss.h).
#include "train/task_loss.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {

const char* metric_name(TaskKind task) {
  return task == TaskKind::regression ? "mse" : "accuracy";
}

namespace {

// Correct predictions among counted positions: argmax over the last axis of logits (..,C)
// equals the target; mask (optional) selects counted positions.
double count_correct(const Tensor& logits, const Tensor& targets, const Tensor& mask) {
  NoGradGuard no_grad;
  const Tensor pred = max(logits.detach(), -1).indices;
  const float* p = pred.data();
  const float* t = targets.data();
  const float* m = mask.defined() ? mask.data() : nullptr;
  double correct = 0;
  for (int64_t i = 0; i < targets.numel(); ++i)
    if ((!m || m[i] != 0.0f) && p[i] == t[i]) correct += 1;
  return correct;
}

double count_valid(const Tensor& mask) {
  double n = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) n += mask.data()[i] != 0.0f;
  return n;
}

}  // namespace

TaskLoss task_loss(TaskKind task, const Tensor& output, const Batch& batch) {
  const Tensor& y = batch.targets;
  if (!output.defined() || !y.defined()) throw ShapeError("task_loss: undefined output or targets");
  const int64_t B = y.size(0);
  TaskLoss r;
  switch (task) {
    case TaskKind::classification: {
      if (output.dim() != 2 || output.size(0) != B || y.dim() != 1)
        throw ShapeError("task_loss (classification): output " + shape_str(output.shape()) +
                         " and targets " + shape_str(y.shape()) + " (expected (B,C) and (B))");
      r.loss = cross_entropy(output, y);
      r.metric_sum = count_correct(output, y, Tensor());
      r.count = static_cast<double>(B);
      break;
    }
    case TaskKind::regression: {
      Tensor pred = output;
      if (pred.dim() == 2 && pred.size(1) == 1) pred = reshape(pred, {B});
      if (pred.shape() != y.shape())
        throw ShapeError("task_loss (regression): output " + shape_str(output.shape()) +
                         " and targets " + shape_str(y.shape()) + " (expected (B) and (B))");
      r.loss = mse_loss(pred, y);
      const float* p = pred.data();
      for (int64_t i = 0; i < B; ++i) {
        const double d = static_cast<double>(p[i]) - y.data()[i];
        r.metric_sum += d * d;
      }
      r.count = static_cast<double>(B);
      break;
    }
    case TaskKind::language_model: {
      if (output.dim() != 3 || y.dim() != 2 || output.size(0) != B || output.size(1) != y.size(1))
        throw ShapeError("task_loss (language_model): output " + shape_str(output.shape()) +
                         " and targets " + shape_str(y.shape()) + " (expected (B,T,V) and (B,T))");
      const Tensor& mask = batch.mask;
      r.loss = cross_entropy(output, y, mask);
      r.metric_sum = count_correct(output, y, mask);
      r.count = mask.defined() ? count_valid(mask) : static_cast<double>(y.numel());
      break;
    }
  }
  return r;
}

}  // namespace nl
