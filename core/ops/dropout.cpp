// dropout: inverted dropout (Srivastava et al. 2014, with the 1/(1-p) scale applied at
// training time so evaluation is the identity). The keep mask is drawn from the caller's Rng
// in element order, so the same seed gives the same mask at any thread count.
#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/elementwise.h"

namespace nl {

// a: any shape; p: drop probability in [0, 1).
Tensor dropout(const Tensor& a, float p, bool training, Rng& rng) {
  if (!a.defined()) throw ShapeError("dropout: called with an undefined tensor");
  if (!(p >= 0.0f && p < 1.0f))
    throw ValueError("dropout: probability p must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.0f) return a;
  const int64_t n = a.numel();
  // scale_mask[k] = 0 (dropped) or 1/(1-p) (kept); saved for the backward.
  Tensor scale_mask = Tensor::empty(a.shape());
  float* pm = scale_mask.data();
  const float keep_scale = 1.0f / (1.0f - p);
  for (int64_t k = 0; k < n; ++k) pm[k] = rng.uniform() < p ? 0.0f : keep_scale;
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data();
  detail::map_into(out.data(), n, kGrainCheap, [&](int64_t k) { return pa[k] * pm[k]; });
  if (needs_grad({&a})) {
    record(out, "dropout", {a}, [scale_mask](const Tensor& d, GradSink& g) {
      const float* pm = scale_mask.data();
      detail::pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return dk * pm[k]; });
    });
  }
  return out;
}

}  // namespace nl
