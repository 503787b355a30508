#include "core/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/ops.h"

namespace nl {
namespace {
double weighted_sum(const Tensor& out, const Tensor& r) {
  double acc = 0.0;
  for (int64_t i = 0; i < out.numel(); ++i)
    acc += static_cast<double>(out.data()[i]) * r.data()[i];
  return acc;
}
}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& opt) {
  GradcheckResult result;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) t.impl()->grad = nullptr;

  // Analytic: backward of sum(out * R).
  Tensor out = fn(inputs);
  Rng rng(opt.seed);
  Tensor r = Tensor::uniform(out.shape(), -1.0f, 1.0f, rng);
  if (!out.requires_grad()) {
    result.ok = false;
    result.message = "gradcheck: the output does not require grad (no input reached it)";
    return result;
  }
  out.backward(r);

  NoGradGuard no_grad;
  double worst = -1e300;
  std::ostringstream worst_msg;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor analytic = x.grad();
    const int64_t n = x.numel();
    const int64_t stride = std::max<int64_t>(1, n / opt.max_checks_per_input);
    for (int64_t k = 0; k < n; k += stride) {
      float* p = x.data() + k;
      const float saved = *p;
      *p = saved + opt.eps;
      const double fp = weighted_sum(fn(inputs), r);
      *p = saved - opt.eps;
      const double fm = weighted_sum(fn(inputs), r);
      *p = saved;
      const double numeric = (fp - fm) / (2.0 * opt.eps);
      const double a = analytic.defined() ? analytic.data()[k] : 0.0;
      const double excess = std::abs(a - numeric) - (opt.atol + opt.rtol * std::abs(numeric));
      if (excess > worst) {
        worst = excess;
        worst_msg.str("");
        worst_msg << "input " << i << " " << shape_str(x.shape()) << ", element " << k
                  << ": analytic " << a << " vs numeric " << numeric << " (|diff| "
                  << std::abs(a - numeric) << ", allowed " << opt.atol + opt.rtol * std::abs(numeric)
                  << ")";
      }
      if (!std::isfinite(a) || !std::isfinite(numeric)) worst = 1e300;
    }
  }
  result.worst_excess = worst;
  result.ok = worst <= 0.0;
  result.message = (result.ok ? "gradcheck passed; worst " : "gradcheck FAILED; worst ") +
                   worst_msg.str();
  return result;
}

}  // namespace nl
