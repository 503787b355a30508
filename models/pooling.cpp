// Masked mean pooling over time (see pooling.h), composed from differentiable ops.
#include "models/pooling.h"

#include <algorithm>

#include "core/error.h"
#include "core/ops.h"

namespace nl {

Tensor masked_mean(const Tensor& x, const Tensor& mask) {
  if (!x.defined() || x.dim() != 3)
    throw ShapeError("masked_mean: input " + (x.defined() ? shape_str(x.shape()) : "undefined") +
                     " must be (B,T,C)");
  const int64_t B = x.size(0), T = x.size(1);
  if (!mask.defined()) return mean(x, 1);
  if (mask.shape() != Shape{B, T})
    throw ShapeError("masked_mean: mask " + shape_str(mask.shape()) + " does not match input " +
                     shape_str(x.shape()) + " (expected (B,T))");
  // weights w[b,t] = m[b,t] / max(1, count_b): constants, no gradient needed.
  Tensor w = Tensor::empty({B, T, 1});
  const float* m = mask.data();
  float* pw = w.data();
  for (int64_t b = 0; b < B; ++b) {
    int64_t count = 0;
    for (int64_t t = 0; t < T; ++t) count += m[b * T + t] != 0.0f;
    const float inv = 1.0f / static_cast<float>(std::max<int64_t>(1, count));
    for (int64_t t = 0; t < T; ++t) pw[b * T + t] = m[b * T + t] != 0.0f ? inv : 0.0f;
  }
  return sum(mul(x, w), 1);  // (B,T,C) * (B,T,1) -> sum over T -> (B,C)
}

}  // namespace nl
