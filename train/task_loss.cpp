// Loss and metric per task kind (see train/task_loss.h).
#include "train/task_loss.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {

const char* metric_name(TaskKind task) {
  return task == TaskKind::regression ? "mse" : "accuracy";
}

namespace {

// Per position (the rows of logits (..,C)): 1 where the argmax equals the target, else 0.
std::vector<char> correct_flags(const Tensor& logits, const Tensor& targets) {
  NoGradGuard no_grad;
  const Tensor pred = max(logits.detach(), -1).indices;
  const float* p = pred.data();
  const float* t = targets.data();
  std::vector<char> ok(static_cast<size_t>(targets.numel()));
  for (int64_t i = 0; i < targets.numel(); ++i) ok[i] = p[i] == t[i];
  return ok;
}

// Correct predictions among counted positions; mask (optional) selects counted positions.
double count_correct(const std::vector<char>& ok, const Tensor& mask) {
  const float* m = mask.defined() ? mask.data() : nullptr;
  double correct = 0;
  for (size_t i = 0; i < ok.size(); ++i)
    if ((!m || m[i] != 0.0f) && ok[i]) correct += 1;
  return correct;
}

// -log softmax(row)[target] in double (log-sum-exp with the row maximum subtracted).
double row_nll(const float* row, int64_t C, int64_t target) {
  double mx = row[0];
  for (int64_t c = 1; c < C; ++c) mx = std::max(mx, static_cast<double>(row[c]));
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += std::exp(static_cast<double>(row[c]) - mx);
  return mx + std::log(s) - row[target];
}

// Fills t.example_* for (B) examples of `per` positions each: logits rows (B*per, C), flags
// and mask (optional) per position. Class targets outside [0, C) are left to cross_entropy's
// own check (it has run before this).
void per_example_ce(TaskLoss& t, const Tensor& logits, const Tensor& targets, const Tensor& mask,
                    const std::vector<char>& ok, int64_t B, int64_t per) {
  const Tensor& lg = logits;
  const int64_t C = lg.size(-1);
  const float* x = lg.data();
  const float* y = targets.data();
  const float* m = mask.defined() ? mask.data() : nullptr;
  t.example_loss.assign(static_cast<size_t>(B), 0.0);
  t.example_metric.assign(static_cast<size_t>(B), 0.0);
  t.example_count.assign(static_cast<size_t>(B), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = b * per; i < (b + 1) * per; ++i) {
      if (m && m[i] == 0.0f) continue;
      t.example_loss[b] += row_nll(x + i * C, C, static_cast<int64_t>(y[i]));
      t.example_metric[b] += ok[i];
      t.example_count[b] += 1;
    }
}

double count_valid(const Tensor& mask) {
  double n = 0;
  for (int64_t i = 0; i < mask.numel(); ++i) n += mask.data()[i] != 0.0f;
  return n;
}

}  // namespace

TaskLoss task_loss(TaskKind task, const Tensor& output, const Batch& batch, bool per_example) {
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
      const std::vector<char> ok = correct_flags(output, y);
      r.metric_sum = count_correct(ok, Tensor());
      r.count = static_cast<double>(B);
      if (per_example) per_example_ce(r, output, y, Tensor(), ok, B, 1);
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
        if (per_example) {
          r.example_loss.push_back(d * d);
          r.example_metric.push_back(d * d);
          r.example_count.push_back(1.0);
        }
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
      const std::vector<char> ok = correct_flags(output, y);
      r.metric_sum = count_correct(ok, mask);
      r.count = mask.defined() ? count_valid(mask) : static_cast<double>(y.numel());
      if (per_example) per_example_ce(r, output, y, mask, ok, B, y.size(1));
      break;
    }
  }
  return r;
}

}  // namespace nl
