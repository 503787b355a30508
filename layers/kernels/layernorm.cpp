// LayerNorm forward + backward kernels, the naive reference, and layer_norm() (see the header).
#include "layers/kernels/layernorm.h"

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/threading.h"

namespace nl {
namespace kernels {
namespace {

// y[j] = ((x[j] - mh) - ml) * rs * g[j] + b[j] for one row; kG/kB select the affine parts.
template <bool kG, bool kB>
void forward_row(const float* x, const float* g, const float* b, float mh, float ml, float rs,
                 int64_t C, float* y) {
  for (int64_t j = 0; j < C; ++j) {
    float v = ((x[j] - mh) - ml) * rs;
    if constexpr (kG) v *= g[j];
    if constexpr (kB) v += b[j];
    y[j] = v;
  }
}

// One row of the backward. Pass 1: a = mean(dŷ), b = mean(dŷ x̂) in float lanes, and the
// row's dy*x̂ / dy into the chunk's dgamma/dbeta partials. Pass 2: dx.
template <bool kG, bool kParams>
void backward_row(const float* dy, const float* x, const float* g, float mh, float ml, float rs,
                  int64_t C, float* pdg, float* pdb, float* dx, bool dx_add) {
  float sa[kFloatLanes] = {}, sb[kFloatLanes] = {};
  int64_t j = 0;
  for (; j + kFloatLanes <= C; j += kFloatLanes)
    for (int k = 0; k < kFloatLanes; ++k) {
      const float xh = ((x[j + k] - mh) - ml) * rs;
      const float d = kG ? dy[j + k] * g[j + k] : dy[j + k];
      sa[k] += d;
      sb[k] += d * xh;
      if constexpr (kParams) {
        pdg[j + k] += dy[j + k] * xh;
        pdb[j + k] += dy[j + k];
      }
    }
  float a = 0.0f, b = 0.0f;
  for (; j < C; ++j) {
    const float xh = ((x[j] - mh) - ml) * rs;
    const float d = kG ? dy[j] * g[j] : dy[j];
    a += d;
    b += d * xh;
    if constexpr (kParams) {
      pdg[j] += dy[j] * xh;
      pdb[j] += dy[j];
    }
  }
  if (!dx) return;
  a += sum_lanes(sa);
  b += sum_lanes(sb);
  a /= static_cast<float>(C);
  b /= static_cast<float>(C);
  if (dx_add) {
    for (j = 0; j < C; ++j) {
      const float xh = ((x[j] - mh) - ml) * rs;
      const float d = kG ? dy[j] * g[j] : dy[j];
      dx[j] += rs * (d - a - xh * b);
    }
  } else {
    for (j = 0; j < C; ++j) {
      const float xh = ((x[j] - mh) - ml) * rs;
      const float d = kG ? dy[j] * g[j] : dy[j];
      dx[j] = rs * (d - a - xh * b);
    }
  }
}

}  // namespace

void layernorm_forward(const float* x, const float* gamma, const float* beta, int64_t R,
                       int64_t C, int64_t groups, float eps, float* y, float* mean,
                       float* mean_lo, float* rstd) {
  if (C <= 0) return;
  parallel_for(R, norm_row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      const Moments mo = row_moments(xr, C);
      float mh, ml;
      split_mean(mo.mean, &mh, &ml);
      // var >= 0 and eps > 0 keep this finite on a constant row (x̂ = 0 there, y = beta).
      const float rs = static_cast<float>(1.0 / std::sqrt(mo.var + static_cast<double>(eps)));
      mean[r] = mh;
      mean_lo[r] = ml;
      rstd[r] = rs;
      const int64_t off = (r % groups) * C;
      const float* g = gamma ? gamma + off : nullptr;
      const float* b = beta ? beta + off : nullptr;
      if (g && b) forward_row<true, true>(xr, g, b, mh, ml, rs, C, yr);
      else if (g) forward_row<true, false>(xr, g, b, mh, ml, rs, C, yr);
      else if (b) forward_row<false, true>(xr, g, b, mh, ml, rs, C, yr);
      else forward_row<false, false>(xr, g, b, mh, ml, rs, C, yr);
    }
  });
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean,
                        const float* mean_lo, const float* rstd, int64_t R, int64_t C,
                        int64_t groups, const NormGrads& grads) {
  if (C <= 0 || R <= 0) return;
  const int64_t P = groups * C;  // affine parameters
  const bool params = grads.dgamma || grads.dbeta;
  const int64_t grain = norm_row_grain(C);
  const int chunks = parallel_chunks(R, grain);
  // Per-chunk partials [chunk][dgamma | dbeta], combined below in chunk order.
  std::vector<float> partial(params ? static_cast<size_t>(2 * chunks * P) : 0, 0.0f);
  parallel_for_chunks(R, grain, [&](int c, int64_t r0, int64_t r1) {
    float* pdg = params ? partial.data() + 2 * c * P : nullptr;
    float* pdb = params ? pdg + P : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t off = (r % groups) * C;
      const float* g = gamma ? gamma + off : nullptr;
      float* dxr = grads.dx ? grads.dx + r * C : nullptr;
      float* pg = params ? pdg + off : nullptr;
      float* pb = params ? pdb + off : nullptr;
      const float* dyr = dy + r * C;
      const float* xr = x + r * C;
      if (g && params) backward_row<true, true>(dyr, xr, g, mean[r], mean_lo[r], rstd[r], C, pg, pb, dxr, grads.dx_add);
      else if (g) backward_row<true, false>(dyr, xr, g, mean[r], mean_lo[r], rstd[r], C, pg, pb, dxr, grads.dx_add);
      else if (params) backward_row<false, true>(dyr, xr, g, mean[r], mean_lo[r], rstd[r], C, pg, pb, dxr, grads.dx_add);
      else backward_row<false, false>(dyr, xr, g, mean[r], mean_lo[r], rstd[r], C, pg, pb, dxr, grads.dx_add);
    }
  });
  if (!params) return;
  for (int64_t j = 0; j < P; ++j) {
    float sg = 0.0f, sb = 0.0f;
    for (int c = 0; c < chunks; ++c) {  // fixed chunk order: deterministic
      sg += partial[2 * c * P + j];
      sb += partial[(2 * c + 1) * P + j];
    }
    if (grads.dgamma) store(grads.dgamma + j, sg, grads.dgamma_add);
    if (grads.dbeta) store(grads.dbeta + j, sb, grads.dbeta_add);
  }
}

NormReference layernorm_reference(const Tensor& x, int64_t C, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps) {
  const int64_t R = x.numel() / C;
  const float* px = x.data();
  NormReference ref;
  ref.y.resize(R * C);
  ref.mean.resize(R);
  ref.var.resize(R);
  const bool back = dy.defined();
  if (back) {
    ref.dx.resize(R * C);
    ref.dgamma.assign(C, 0.0);
    ref.dbeta.assign(C, 0.0);
  }
  std::vector<double> xh(C), dyh(C);
  for (int64_t r = 0; r < R; ++r) {
    double m = 0.0, v = 0.0;
    for (int64_t j = 0; j < C; ++j) m += px[r * C + j];
    m /= C;
    for (int64_t j = 0; j < C; ++j) v += (px[r * C + j] - m) * (px[r * C + j] - m);
    v /= C;
    ref.mean[r] = m;
    ref.var[r] = v;
    const double rs = 1.0 / std::sqrt(v + eps);
    for (int64_t j = 0; j < C; ++j) {
      xh[j] = (px[r * C + j] - m) * rs;
      const double g = gamma.defined() ? gamma.data()[j] : 1.0;
      const double b = beta.defined() ? beta.data()[j] : 0.0;
      ref.y[r * C + j] = xh[j] * g + b;
    }
    if (!back) continue;
    double a = 0.0, bb = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const double d = dy.data()[r * C + j];
      dyh[j] = d * (gamma.defined() ? gamma.data()[j] : 1.0);
      a += dyh[j];
      bb += dyh[j] * xh[j];
      ref.dgamma[j] += d * xh[j];
      ref.dbeta[j] += d;
    }
    a /= C;
    bb /= C;
    for (int64_t j = 0; j < C; ++j) ref.dx[r * C + j] = rs * (dyh[j] - a - xh[j] * bb);
  }
  return ref;
}

}  // namespace kernels

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, float eps) {
  const auto fail = [&](const std::string& what, const Shape& other) {
    throw ShapeError("layer_norm: " + what + " " + shape_str(other) +
                     " does not match normalized_shape " + shape_str(normalized_shape) +
                     " (input shape " + shape_str(x.shape()) + ")");
  };
  if (!x.defined()) throw ShapeError("layer_norm: called with an undefined input");
  if (normalized_shape.empty()) throw ShapeError("layer_norm: normalized_shape must not be empty");
  const size_t k = normalized_shape.size();
  if (x.shape().size() < k ||
      !std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k))
    fail("the trailing dims of the input", x.shape());
  if (weight.defined() && weight.shape() != normalized_shape) fail("weight shape", weight.shape());
  if (bias.defined() && bias.shape() != normalized_shape) fail("bias shape", bias.shape());
  if (!(eps > 0.0f)) throw ValueError("layer_norm: eps must be > 0, got " + std::to_string(eps));

  const int64_t C = shape_numel(normalized_shape);
  const int64_t R = C ? x.numel() / C : 0;
  Tensor y = Tensor::empty(x.shape());
  Tensor mean = Tensor::empty({R}), mean_lo = Tensor::empty({R}), rstd = Tensor::empty({R});
  kernels::layernorm_forward(x.data(), weight.defined() ? weight.data() : nullptr,
                             bias.defined() ? bias.data() : nullptr, R, C, 1, eps, y.data(),
                             mean.data(), mean_lo.data(), rstd.data());
  if (needs_grad({&x, &weight, &bias})) {
    record(y, "layer_norm", {x, weight, bias},
           [x, weight, mean, mean_lo, rstd, R, C](const Tensor& dy, GradSink& sink) {
             const kernels::NormGrads g = kernels::norm_grad_targets(sink);
             kernels::layernorm_backward(dy.data(), x.data(),
                                         weight.defined() ? weight.data() : nullptr, mean.data(),
                                         mean_lo.data(), rstd.data(), R, C, 1, g);
           });
  }
  return y;
}

}  // namespace nl
