// Adam / AdamW update (see adam.h for the formulas). Scalars that depend only on the step
// are computed once in double; the element loop is a single pass over p, g, m, v.
#include "optim/adam.h"

#include <cmath>

#include "core/error.h"

namespace nl {

Adam::Adam(NamedParams params, const AdamOptions& options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  if (!(options.beta1 >= 0.0 && options.beta1 < 1.0)) throw ValueError("Adam: beta1 must be in [0, 1)");
  if (!(options.beta2 >= 0.0 && options.beta2 < 1.0)) throw ValueError("Adam: beta2 must be in [0, 1)");
  if (!(options.eps >= 0.0)) throw ValueError("Adam: eps must be >= 0");
  if (!(options.weight_decay >= 0.0)) throw ValueError("Adam: weight_decay must be >= 0");
  add_slot("exp_avg");
  add_slot("exp_avg_sq");
}

void Adam::update(size_t i, float* p, const float* g, int64_t n, int64_t t, int64_t offset) {
  const AdamOptions& o = options_;
  const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(t));
  const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(t));
  const float step_size = static_cast<float>(lr_ / bc1);
  const float inv_bc2_sqrt = static_cast<float>(1.0 / std::sqrt(bc2));
  const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const float one_b1 = static_cast<float>(1.0 - o.beta1), one_b2 = static_cast<float>(1.0 - o.beta2);
  const float eps = static_cast<float>(o.eps);
  const float l2 = o.decoupled ? 0.0f : static_cast<float>(o.weight_decay);
  const float keep = o.decoupled ? static_cast<float>(1.0 - lr_ * o.weight_decay) : 1.0f;
  // One pass over p, g, m, v. __restrict (the four never alias) and -fno-math-errno
  // (CMakeLists.txt) let GCC vectorise it; sqrt and divide stay IEEE-exact, so the results are
  // bit for bit those of the scalar loop.
  float* __restrict pp = p;
  const float* __restrict gg = g;
  float* __restrict m = slot(0, i) + offset;
  float* __restrict v = slot(1, i) + offset;
  for (int64_t j = 0; j < n; ++j) {
    const float gj = gg[j] + l2 * pp[j];
    const float pj = pp[j] * keep;
    const float mj = b1 * m[j] + one_b1 * gj;
    const float vj = b2 * v[j] + one_b2 * gj * gj;
    m[j] = mj;
    v[j] = vj;
    pp[j] = pj - step_size * mj / (std::sqrt(vj) * inv_bc2_sqrt + eps);
  }
}

}  // namespace nl
