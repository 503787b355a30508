// Task names and row slices of batches (see data/batch.h).
#include "data/batch.h"

#include <algorithm>

#include "core/error.h"

namespace nl {
const char* task_name(TaskKind k) {
  switch (k) {
    case TaskKind::classification: return "classification";
    case TaskKind::regression: return "regression";
    case TaskKind::language_model: return "language_model";
  }
  return "?";
}

namespace {
// A copy of rows [begin, end) of t's outermost axis (undefined stays undefined).
Tensor copy_rows(const Tensor& t, int64_t begin, int64_t end) {
  if (!t.defined()) return t;
  Shape shape = t.shape();
  const int64_t row = shape[0] > 0 ? t.numel() / shape[0] : 0;
  shape[0] = end - begin;
  Tensor out = Tensor::empty(shape);
  std::copy(t.data() + begin * row, t.data() + end * row, out.data());
  return out;
}
}  // namespace

Batch slice_rows(const Batch& b, int64_t begin, int64_t end) {
  const int64_t n = b.size();
  if (!(0 <= begin && begin < end && end <= n))
    throw ValueError("slice_rows: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                     ") of a batch of " + std::to_string(n));
  for (const Tensor* t : {&b.mask, &b.lengths, &b.targets})
    if (t->defined() && (t->dim() == 0 || t->size(0) != n))
      throw ValueError("slice_rows: a batch tensor does not have " + std::to_string(n) + " rows");
  Batch s;
  s.inputs = copy_rows(b.inputs, begin, end);
  s.mask = copy_rows(b.mask, begin, end);
  s.lengths = copy_rows(b.lengths, begin, end);
  s.targets = copy_rows(b.targets, begin, end);
  return s;
}
}  // namespace nl
