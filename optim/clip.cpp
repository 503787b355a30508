// Global-norm gradient clipping: one pass to measure, one pass to scale.
#include "optim/clip.h"

#include <cmath>

#include "core/error.h"

namespace nl {

double global_grad_norm(const NamedParams& params) {
  double sq = 0.0;
  for (const auto& [_, p] : params) {
    const TensorImpl* g = p.impl()->grad.get();
    if (!g) continue;
    const float* d = g->storage->data() + g->offset;
    const int64_t n = p.numel();
    double part = 0.0;  // per-parameter partial keeps long sums accurate
    for (int64_t j = 0; j < n; ++j) part += static_cast<double>(d[j]) * d[j];
    sq += part;
  }
  return std::sqrt(sq);
}

double clip_grad_norm(const NamedParams& params, double max_norm) {
  if (!(max_norm > 0.0)) throw ValueError("clip_grad_norm: max_norm must be > 0, got " + std::to_string(max_norm));
  const double norm = global_grad_norm(params);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return norm;
  const float c = static_cast<float>(coef);
  for (const auto& [_, p] : params) {
    TensorImpl* g = p.impl()->grad.get();
    if (!g) continue;
    float* d = g->storage->data() + g->offset;
    const int64_t n = p.numel();
    for (int64_t j = 0; j < n; ++j) d[j] *= c;
  }
  return norm;
}

}  // namespace nl
