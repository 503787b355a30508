// Reductions: sum and mean over all elements or one axis (keepdim), max over an axis.
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {

Tensor sum(const Tensor& a) {
  double acc = 0.0;  // double accumulation: sums of many floats stay accurate
  const float* p = a.data();
  for (int64_t i = 0; i < a.numel(); ++i) acc += p[i];
  Tensor out = Tensor::scalar(static_cast<float>(acc));
  if (needs_grad({&a})) {
    record(out, "sum", {a}, [](const Tensor& d, GradSink& g) {
      Tensor& da = g.grad(0);
      const float v = d.data()[0];
      float* p = da.data();
      for (int64_t i = 0; i < da.numel(); ++i) p[i] += v;
    });
  }
  return out;
}

}  // namespace nl
