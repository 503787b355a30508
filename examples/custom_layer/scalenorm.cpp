// ScaleNorm: fused forward and backward over rows of the last axis.
//   forward:  n = max(‖x‖, eps),  y = g·x/n
//   backward: with x̂ = x/n:  dx = (g/n)·(dy − x̂·(x̂·dy))  when ‖x‖ > eps, else (g/eps)·dy
//             dg = Σ dy·x̂
#include "scalenorm.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"

namespace user {

using nl::Tensor;

Tensor scalenorm(const Tensor& x, const Tensor& g, float eps) {
  if (x.dim() < 1 || x.size(-1) < 1 || g.numel() != 1)
    throw nl::ShapeError("scalenorm: input " + nl::shape_str(x.shape()) + " with g " +
                         nl::shape_str(g.shape()) + " (g must have one element)");
  const int64_t C = x.size(-1), rows = x.numel() / C;
  Tensor out = Tensor::empty(x.shape());
  Tensor rnorm = Tensor::empty({rows});  // 1/n per row, saved for the backward
  const float gv = g.data()[0];
  const float* xd = x.data();
  float* yd = out.data();
  float* rn = rnorm.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = xd + r * C;
    double sq = 0.0;  // double accumulation: long rows lose no precision
    for (int64_t c = 0; c < C; ++c) sq += static_cast<double>(xr[c]) * xr[c];
    const float n = std::max(static_cast<float>(std::sqrt(sq)), eps);
    rn[r] = 1.0f / n;
    for (int64_t c = 0; c < C; ++c) yd[r * C + c] = gv * xr[c] * rn[r];
  }
  if (nl::needs_grad({&x, &g})) {
    Tensor xs = x.detach(), gs = g.detach();
    nl::record(out, "scalenorm", {x, g}, [xs, gs, rnorm, eps, C, rows](const Tensor& dout, nl::GradSink& sink) {
      const float* xd = xs.data();
      const float* dy = dout.data();
      const float* rn = rnorm.data();
      const float gv = gs.data()[0];
      float* dx = sink.needs(0) ? sink.grad(0).data() : nullptr;
      double dg = 0.0;
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = xd + r * C;
        const float* dyr = dy + r * C;
        double dot = 0.0;  // x̂·dy
        for (int64_t c = 0; c < C; ++c) dot += static_cast<double>(xr[c]) * rn[r] * dyr[c];
        dg += dot;
        if (!dx) continue;
        const bool clamped = rn[r] == 1.0f / eps;  // ‖x‖ <= eps: y = g·x/eps is linear in x
        const float s = gv * rn[r], d = clamped ? 0.0f : static_cast<float>(dot);
        for (int64_t c = 0; c < C; ++c) dx[r * C + c] += s * (dyr[c] - xr[c] * rn[r] * d);
      }
      if (sink.needs(1)) sink.grad(1).data()[0] += static_cast<float>(dg);
    });
  }
  return out;
}

ScaleNorm::ScaleNorm(const ScaleNormOptions& options) : options_(options) {
  if (options.features < 1) throw nl::ValueError("ScaleNorm: features must be >= 1");
  g = register_parameter("g", Tensor::zeros({1}));
  reset_parameters();
}

void ScaleNorm::reset_parameters() { g.fill_(std::sqrt(static_cast<float>(options_.features))); }

std::string ScaleNorm::extra_repr() const {
  std::ostringstream os;
  os << "features=" << options_.features << ", eps=" << options_.eps;
  return os.str();
}

nl::ModulePtr make_scalenorm(nl::ConfigReader& cfg, const nl::LayerArgs& args) {
  ScaleNormOptions o;
  o.eps = static_cast<float>(cfg.get_number("eps", 1e-5, "lower bound of the row norm", 0.0, 1.0));
  o.features = args.features;
  if (o.features < 1) cfg.fail("type", "scalenorm needs the input width (LayerArgs.features)");
  return std::make_shared<ScaleNorm>(o);
}

void register_scalenorm() {
  // The one line that makes {"type": "scalenorm"} work everywhere normlab builds layers.
  nl::layer_registry().add("scalenorm", make_scalenorm, "y = g·x/‖x‖ (Nguyen & Salazar 2019)");
}

}  // namespace user
