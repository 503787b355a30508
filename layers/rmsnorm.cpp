// RMSNorm: forward + backward kernels, the naive reference, rms_norm(), the module and its
// factory (see the header).
#include "layers/rmsnorm.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/simd.h"
#include "core/threading.h"

namespace nl {
namespace kernels {
namespace {

// The 64 lanes of sb summed in sum_lanes' order (norm_common.h): halvings 64 -> 32 -> 16 -> 8,
// then the last 8 left to right.
float sum_lanes64(const simd::Vf16 (&sb)[4]) {
  const simd::Vf16 h16 = (sb[0] + sb[2]) + (sb[1] + sb[3]);
  float s = h16[0] + h16[8];
  for (int k = 1; k < 8; ++k) s += h16[k] + h16[k + 8];
  return s;
}

// y = x * rr (* g) for one row, streamed; next_x (or null) is prefetched.
void forward_row_stream(const float* x, const float* g, float rr, int64_t C, float* y,
                        const float* next_x) {
  const simd::Vf16 vrr = simd::splat(rr);
  for (int64_t j = 0; j < C; j += simd::kWidth) {
    if (next_x) simd::prefetch(next_x + j);
    simd::Vf16 v = simd::load(x + j) * vrr;
    if (g) v *= simd::load(g + j);
    simd::store_stream(y + j, v);
  }
}

// dx = rr * (dŷ - x̂ b) for one row, streamed; next_x / next_dy (or null) are prefetched into
// L2 (simd::prefetch_l2; into L1 they share the current rows' sets at C = 1024: backward
// 8192x1024 3.20 -> 3.02 ms at 1 thread, even at 2, thirty-first round).
void dx_row_stream(const float* dy, const float* x, const float* g, float rr, float b, int64_t C,
                   float* dx, const float* next_x, const float* next_dy) {
  const simd::Vf16 vrr = simd::splat(rr), vb = simd::splat(b);
  for (int64_t j = 0; j < C; j += simd::kWidth) {
    if (next_x) {
      simd::prefetch_l2(next_x + j);
      simd::prefetch_l2(next_dy + j);
    }
    const simd::Vf16 xh = simd::load(x + j) * vrr;
    simd::Vf16 d = simd::load(dy + j);
    if (g) d *= simd::load(g + j);
    simd::store_stream(dx + j, vrr * (d - xh * vb));
  }
}

// One row of the backward: b = mean(dŷ x̂) in float lanes plus the dgamma partial, then dx.
// stream: dx through dx_row_stream, with the next row (next_x, next_dy) prefetched.
template <bool kG, bool kParams>
void backward_row(const float* dy, const float* x, const float* g, float rr, int64_t C,
                  float* pdg, float* dx, bool dx_add, bool stream, const float* next_x,
                  const float* next_dy) {
  // sb: 64 float lanes as four 16-float vectors (lane k of sb[q] sums elements j + 16 q + k),
  // kept in registers (a lane array in memory was spilled: a store-to-load chain per vector).
  static_assert(kFloatLanes == 4 * simd::kWidth, "backward_row: sb holds kFloatLanes lanes");
  simd::Vf16 sb[4] = {};
  const simd::Vf16 vrr = simd::splat(rr);
  int64_t j = 0;
  for (; j + kFloatLanes <= C; j += kFloatLanes)
    for (int q = 0; q < 4; ++q) {
      const int64_t at = j + q * simd::kWidth;
      const simd::Vf16 xh = simd::load(x + at) * vrr;
      const simd::Vf16 dyv = simd::load(dy + at);
      const simd::Vf16 d = kG ? dyv * simd::load(g + at) : dyv;
      sb[q] += d * xh;
      if constexpr (kParams) simd::store(pdg + at, simd::load(pdg + at) + dyv * xh);
    }
  float b = 0.0f;
  for (; j < C; ++j) {
    const float xh = x[j] * rr;
    const float d = kG ? dy[j] * g[j] : dy[j];
    b += d * xh;
    if constexpr (kParams) pdg[j] += dy[j] * xh;
  }
  if (!dx) return;
  b += sum_lanes64(sb);
  b /= static_cast<float>(C);
  if (stream) return dx_row_stream(dy, x, kG ? g : nullptr, rr, b, C, dx, next_x, next_dy);
  for (j = 0; j < C; ++j) {
    const float xh = x[j] * rr;
    const float d = kG ? dy[j] * g[j] : dy[j];
    store(dx + j, rr * (d - xh * b), dx_add);
  }
}

}  // namespace

void rmsnorm_forward(const float* x, const float* gamma, int64_t R, int64_t C, float eps,
                     float* y, float* rrms) {
  if (C <= 0) return;
  auto row_rrms = [&](int64_t r) {
    const double ms = sum_sq_double(x + r * C, C) / static_cast<double>(C);
    return rrms[r] = static_cast<float>(1.0 / std::sqrt(ms + static_cast<double>(eps)));
  };
  // Two loops rather than a branch per row: a per-row test made the ordinary loop 5 % slower
  // at 2048x128.
  if (stream_output(y, R, C)) {
    parallel_for(R, norm_row_grain(C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        forward_row_stream(x + r * C, gamma, row_rrms(r), C, y + r * C,
                           r + 1 < r1 ? x + (r + 1) * C : nullptr);
      simd::stream_fence();  // before the pool hands y on
    });
    return;
  }
  // Last block first, as LayerNorm's forward (blocks_last_first, norm_common.h).
  auto rows = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      const float rr = row_rrms(r);
      if (gamma)
        for (int64_t j = 0; j < C; ++j) yr[j] = xr[j] * rr * gamma[j];
      else
        for (int64_t j = 0; j < C; ++j) yr[j] = xr[j] * rr;
    }
  };
  parallel_for(R, norm_row_grain(C), [&](int64_t r0, int64_t r1) {
    blocks_last_first(r0, r1, C, 1, rows);
  });
}

void rmsnorm_backward(const float* dy, const float* x, const float* gamma, const float* rrms,
                      int64_t R, int64_t C, const NormGrads& grads) {
  if (C <= 0 || R <= 0) return;
  const bool params = grads.dgamma != nullptr;
  const int64_t grain = norm_row_grain(C);
  const int chunks = parallel_chunks(R, grain);
  const bool stream = !grads.dx_add && stream_output(grads.dx, R, C);
  // Per-chunk dgamma partials, each on its own cache lines, away from the rows of x (Scratch).
  Scratch partial(params ? chunks : 0, C, x, C);
  parallel_for_chunks(R, grain, [&](int c, int64_t r0, int64_t r1) {
    float* pdg = params ? partial[c] : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const float* dyr = dy + r * C;
      const float* xr = x + r * C;
      float* dxr = grads.dx ? grads.dx + r * C : nullptr;
      const bool ahead = stream && r + 1 < r1;  // prefetch the next row while dx streams
      const float* nx = ahead ? xr + C : nullptr;
      const float* ndy = ahead ? dyr + C : nullptr;
      const bool add = grads.dx_add;
      const float rr = rrms[r];
      if (gamma && params)
        backward_row<true, true>(dyr, xr, gamma, rr, C, pdg, dxr, add, stream, nx, ndy);
      else if (gamma)
        backward_row<true, false>(dyr, xr, gamma, rr, C, pdg, dxr, add, stream, nx, ndy);
      else if (params)
        backward_row<false, true>(dyr, xr, gamma, rr, C, pdg, dxr, add, stream, nx, ndy);
      else
        backward_row<false, false>(dyr, xr, gamma, rr, C, pdg, dxr, add, stream, nx, ndy);
    }
    if (stream) simd::stream_fence();  // before the pool hands dx on
  });
  if (!params) return;
  for (int64_t j = 0; j < C; ++j) {
    float s = 0.0f;
    for (int c = 0; c < chunks; ++c) s += partial[c][j];  // fixed chunk order
    store(grads.dgamma + j, s, grads.dgamma_add);
  }
}

NormReference rmsnorm_reference(const Tensor& x, int64_t C, const Tensor& gamma, const Tensor& dy,
                                double eps) {
  const int64_t R = x.numel() / C;
  const float* px = x.data();
  NormReference ref;
  ref.y.resize(R * C);
  ref.var.resize(R);
  const bool back = dy.defined();
  if (back) {
    ref.dx.resize(R * C);
    ref.dgamma.assign(C, 0.0);
  }
  for (int64_t r = 0; r < R; ++r) {
    double ms = 0.0;
    for (int64_t j = 0; j < C; ++j) ms += static_cast<double>(px[r * C + j]) * px[r * C + j];
    ms /= C;
    ref.var[r] = ms;
    const double rr = 1.0 / std::sqrt(ms + eps);
    double b = 0.0;
    for (int64_t j = 0; j < C; ++j) {
      const double g = gamma.defined() ? gamma.data()[j] : 1.0;
      const double xh = px[r * C + j] * rr;
      ref.y[r * C + j] = xh * g;
      if (back) {
        const double d = dy.data()[r * C + j];
        b += d * g * xh;
        ref.dgamma[j] += d * xh;
      }
    }
    if (!back) continue;
    b /= C;
    for (int64_t j = 0; j < C; ++j) {
      const double g = gamma.defined() ? gamma.data()[j] : 1.0;
      ref.dx[r * C + j] = rr * (dy.data()[r * C + j] * g - px[r * C + j] * rr * b);
    }
  }
  return ref;
}

}  // namespace kernels

Tensor rms_norm(const Tensor& x, const Tensor& weight, float eps) {
  if (!x.defined() || x.dim() < 1) throw ShapeError("rms_norm: expected an input with a feature axis");
  const int64_t C = x.size(-1);
  if (weight.defined() && weight.shape() != Shape{C})
    throw ShapeError("rms_norm: weight of shape " + shape_str(weight.shape()) +
                     " does not match the last axis of input " + shape_str(x.shape()));
  if (!(eps > 0.0f)) throw ValueError("rms_norm: eps must be > 0, got " + std::to_string(eps));
  const int64_t R = C ? x.numel() / C : 0;
  Tensor y = Tensor::empty(x.shape());
  Tensor rrms = Tensor::empty({R});
  kernels::rmsnorm_forward(x.data(), weight.defined() ? weight.data() : nullptr, R, C, eps,
                           y.data(), rrms.data());
  if (needs_grad({&x, &weight})) {
    record(y, "rms_norm", {x, weight}, [x, weight, rrms, R, C](const Tensor& dy, GradSink& sink) {
      const kernels::NormGrads g = kernels::norm_grad_targets(sink);
      kernels::rmsnorm_backward(dy.data(), x.data(), weight.defined() ? weight.data() : nullptr,
                                rrms.data(), R, C, g);
    });
  }
  return y;
}

// ---- the module ----------------------------------------------------------------------------

RMSNorm::RMSNorm(const RMSNormOptions& options) : options_(options) {
  if (options_.features <= 0)
    throw ValueError("RMSNorm: features must be > 0, got " + std::to_string(options_.features));
  if (!(options_.eps > 0.0)) throw ValueError("RMSNorm: eps must be > 0");
  if (options_.affine) weight = register_parameter("weight", Tensor::empty({options_.features}));
  reset_parameters();
}

void RMSNorm::reset_parameters() {
  if (weight.defined()) weight.fill_(1.0f);
}

Tensor RMSNorm::forward(const Tensor& x) {
  if (x.defined() && x.dim() >= 1 && x.size(-1) != options_.features)
    throw ShapeError("RMSNorm: input " + shape_str(x.shape()) + " does not end in the " +
                     std::to_string(options_.features) + " features of the layer");
  return rms_norm(x, weight, static_cast<float>(options_.eps));
}

std::string RMSNorm::extra_repr() const {
  std::ostringstream os;
  os << "features=" << options_.features << ", eps=" << options_.eps
     << ", affine=" << (options_.affine ? "true" : "false");
  return os.str();
}

ModulePtr make_rmsnorm(ConfigReader& cfg, const LayerArgs& args) {
  RMSNormOptions o;
  o.features = cfg.get_int("features", args.features,
                           "number of features C (default: the width the parent passes in)", 0);
  if (o.features == 0) cfg.fail("features", "is unknown here: set 'features'");
  o.eps = cfg.get_number("eps", 1e-6, "added to the mean square inside the square root", 0.0, 1.0);
  if (!(o.eps > 0.0)) cfg.fail("eps", "must be > 0");
  o.affine = cfg.get_bool("affine", true, "learnable per-feature weight");
  return std::make_shared<RMSNorm>(o);
}

}  // namespace nl
