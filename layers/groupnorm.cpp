// GroupNorm: group_norm() on LayerNorm's grouped kernels, the naive reference, the module and
// its factory (see the header).
#include "layers/groupnorm.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "layers/kernels/layernorm.h"

namespace nl {

kernels::NormReference kernels::groupnorm_reference(const Tensor& x, int64_t groups,
                                                    const Tensor& gamma, const Tensor& beta,
                                                    const Tensor& dy, double eps) {
  const int64_t C = x.size(-1), Cg = C / groups, R = x.numel() / C;
  const float* px = x.data();
  NormReference ref;
  ref.y.assign(R * C, 0.0);
  if (dy.defined()) {
    ref.dx.assign(R * C, 0.0);
    ref.dgamma.assign(C, 0.0);
    ref.dbeta.assign(C, 0.0);
  }
  for (int64_t r = 0; r < R; ++r)
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t o = r * C + g * Cg;
      double m = 0.0, v = 0.0;
      for (int64_t j = 0; j < Cg; ++j) m += px[o + j];
      m /= Cg;
      for (int64_t j = 0; j < Cg; ++j) v += (px[o + j] - m) * (px[o + j] - m);
      v /= Cg;
      ref.mean.push_back(m);
      ref.var.push_back(v);
      const double rs = 1.0 / std::sqrt(v + eps);
      double a = 0.0, b = 0.0;
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = g * Cg + j;
        const double xh = (px[o + j] - m) * rs;
        const double gm = gamma.defined() ? gamma.data()[c] : 1.0;
        ref.y[o + j] = xh * gm + (beta.defined() ? beta.data()[c] : 0.0);
        if (!dy.defined()) continue;
        const double d = dy.data()[o + j];
        a += d * gm;
        b += d * gm * xh;
        ref.dgamma[c] += d * xh;
        ref.dbeta[c] += d;
      }
      if (!dy.defined()) continue;
      a /= Cg;
      b /= Cg;
      for (int64_t j = 0; j < Cg; ++j) {
        const int64_t c = g * Cg + j;
        const double xh = (px[o + j] - m) * rs;
        const double gm = gamma.defined() ? gamma.data()[c] : 1.0;
        ref.dx[o + j] = rs * (dy.data()[o + j] * gm - a - xh * b);
      }
    }
  return ref;
}

Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps) {
  if (!x.defined() || x.dim() < 1) throw ShapeError("group_norm: expected an input with a feature axis");
  const int64_t C = x.size(-1);
  if (groups <= 0 || C % groups != 0)
    throw ValueError("group_norm: " + std::to_string(groups) + " groups do not divide the " +
                     std::to_string(C) + " channels of input " + shape_str(x.shape()));
  for (const Tensor* t : {&weight, &bias})
    if (t->defined() && t->shape() != Shape{C})
      throw ShapeError("group_norm: weight/bias of shape " + shape_str(t->shape()) +
                       " does not match the last axis of input " + shape_str(x.shape()));
  if (!(eps > 0.0f)) throw ValueError("group_norm: eps must be > 0, got " + std::to_string(eps));
  const int64_t Cg = C / groups;
  const int64_t rows = C ? x.numel() / Cg : 0;  // one row per (position, group)
  Tensor y = Tensor::empty(x.shape());
  Tensor mean = Tensor::empty({rows}), mean_lo = Tensor::empty({rows}), rstd = Tensor::empty({rows});
  kernels::layernorm_forward(x.data(), weight.defined() ? weight.data() : nullptr,
                             bias.defined() ? bias.data() : nullptr, rows, Cg, groups, eps,
                             y.data(), mean.data(), mean_lo.data(), rstd.data());
  if (needs_grad({&x, &weight, &bias})) {
    record(y, "group_norm", {x, weight, bias},
           [x, weight, mean, mean_lo, rstd, rows, Cg, groups](const Tensor& dy, GradSink& sink) {
             const kernels::NormGrads g = kernels::norm_grad_targets(sink);
             kernels::layernorm_backward(dy.data(), x.data(),
                                         weight.defined() ? weight.data() : nullptr, mean.data(),
                                         mean_lo.data(), rstd.data(), rows, Cg, groups, g);
           });
  }
  return y;
}

GroupNorm::GroupNorm(const GroupNormOptions& options) : options_(options) {
  const int64_t C = options_.features;
  if (C <= 0) throw ValueError("GroupNorm: features must be > 0, got " + std::to_string(C));
  if (options_.groups <= 0 || C % options_.groups != 0)
    throw ValueError("GroupNorm: groups = " + std::to_string(options_.groups) +
                     " must divide features = " + std::to_string(C));
  if (!(options_.eps > 0.0)) throw ValueError("GroupNorm: eps must be > 0");
  if (options_.affine) {
    weight = register_parameter("weight", Tensor::empty({C}));
    bias = register_parameter("bias", Tensor::empty({C}));
  }
  reset_parameters();
}

void GroupNorm::reset_parameters() {
  if (weight.defined()) weight.fill_(1.0f);
  if (bias.defined()) bias.fill_(0.0f);
}

Tensor GroupNorm::forward(const Tensor& x) {
  if (x.defined() && x.dim() >= 1 && x.size(-1) != options_.features)
    throw ShapeError("GroupNorm: input " + shape_str(x.shape()) + " does not end in the " +
                     std::to_string(options_.features) + " features of the layer");
  return group_norm(x, options_.groups, weight, bias, static_cast<float>(options_.eps));
}

std::string GroupNorm::extra_repr() const {
  std::ostringstream os;
  os << "features=" << options_.features << ", groups=" << options_.groups
     << ", eps=" << options_.eps << ", affine=" << (options_.affine ? "true" : "false");
  return os.str();
}

ModulePtr make_groupnorm(ConfigReader& cfg, const LayerArgs& args) {
  GroupNormOptions o;
  o.features = cfg.get_int("features", args.features,
                           "number of channels C (default: the width the parent passes in)", 0);
  if (o.features == 0) cfg.fail("features", "is unknown here: set 'features'");
  o.groups = cfg.get_int("groups", 1, "number of channel groups; must divide the channels", 1);
  if (o.features % o.groups != 0)
    cfg.fail("groups", std::to_string(o.groups) + " does not divide the " +
                           std::to_string(o.features) + " channels");
  o.eps = cfg.get_number("eps", 1e-5, "added to the variance inside the square root", 0.0, 1.0);
  if (!(o.eps > 0.0)) cfg.fail("eps", "must be > 0");
  o.affine = cfg.get_bool("affine", true, "learnable per-channel weight and bias");
  return std::make_shared<GroupNorm>(o);
}

}  // namespace nl
