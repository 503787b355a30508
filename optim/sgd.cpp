// SGD update (see sgd.h for the formulas).
#include "optim/sgd.h"

#include "core/error.h"

namespace nl {

SGD::SGD(NamedParams params, const SGDOptions& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  if (options.momentum < 0.0) throw ValueError("SGD: momentum must be >= 0");
  if (options.weight_decay < 0.0) throw ValueError("SGD: weight_decay must be >= 0");
  if (options.nesterov && options.momentum <= 0.0)
    throw ValueError("SGD: nesterov needs momentum > 0");
  if (options.momentum > 0.0) add_slot("momentum_buffer");
}

// __restrict: p, g and the momentum buffer never alias, so both loops vectorise.
void SGD::update(size_t i, float* __restrict p, const float* __restrict g, int64_t n, int64_t,
                 int64_t offset) {
  const float lr = static_cast<float>(lr_), wd = static_cast<float>(options_.weight_decay);
  const float mu = static_cast<float>(options_.momentum);
  if (mu == 0.0f) {
    for (int64_t j = 0; j < n; ++j) p[j] -= lr * (g[j] + wd * p[j]);
    return;
  }
  float* __restrict b = slot(0, i) + offset;
  const bool nesterov = options_.nesterov;
  for (int64_t j = 0; j < n; ++j) {
    const float gj = g[j] + wd * p[j];
    b[j] = mu * b[j] + gj;
    p[j] -= lr * (nesterov ? gj + mu * b[j] : b[j]);
  }
}

}  // namespace nl
