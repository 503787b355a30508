// BatchNorm statistics, forward and backward kernels, the naive reference, and batch_norm()
// (see the header).
#include "layers/kernels/batchnorm.h"

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/threading.h"

namespace nl {
namespace kernels {
namespace {

constexpr int64_t kChannelGrain = 16;    // channels per thread below which stats stay serial
constexpr int64_t kGrainElems = 1 << 14;  // elements per thread for the row-parallel passes

// Rows per statistics block: ~128 KB of x per block (stays in L2 for the second pass),
// chosen from C alone so a channel's result does not depend on the thread count.
int64_t block_rows(int64_t C) { return std::clamp<int64_t>((32 * 1024) / std::max<int64_t>(1, C), 16, 4096); }
int64_t row_grain(int64_t C) { return std::max<int64_t>(1, kGrainElems / std::max<int64_t>(1, C)); }
bool valid(const float* mask, int64_t r) { return !mask || mask[r] != 0.0f; }

}  // namespace

void batchnorm_stats(const float* x, const float* mask, int64_t R, int64_t C, float eps,
                     float* mean, float* mean_lo, float* var, float* rstd) {
  // Scratch per channel: merged mean M, merged M2, block sum, block deviation sums s1, s2.
  std::vector<double> scratch(static_cast<size_t>(5 * C));
  std::vector<float> shift(static_cast<size_t>(C));
  const int64_t BR = block_rows(C);
  parallel_for(C, kChannelGrain, [&](int64_t c0, int64_t c1) {
    double* M = scratch.data();
    double* M2 = M + C;
    double* bs = M + 2 * C;
    double* s1 = M + 3 * C;
    double* s2 = M + 4 * C;
    float* sh = shift.data();
    for (int64_t c = c0; c < c1; ++c) M[c] = M2[c] = 0.0;
    int64_t n = 0;
    for (int64_t rb = 0; rb < R; rb += BR) {
      const int64_t re = std::min(R, rb + BR);
      // Pass 1 over the block: its mean per channel.
      for (int64_t c = c0; c < c1; ++c) bs[c] = 0.0;
      int64_t nb = 0;
      for (int64_t r = rb; r < re; ++r) {
        if (!valid(mask, r)) continue;
        ++nb;
        const float* xr = x + r * C;
        for (int64_t c = c0; c < c1; ++c) bs[c] += static_cast<double>(xr[c]);
      }
      if (nb == 0) continue;
      const double inv_nb = 1.0 / static_cast<double>(nb);
      for (int64_t c = c0; c < c1; ++c) {
        sh[c] = static_cast<float>(bs[c] * inv_nb);
        s1[c] = s2[c] = 0.0;
      }
      // Pass 2 over the (cached) block: deviations from the float block mean (see row_moments).
      for (int64_t r = rb; r < re; ++r) {
        if (!valid(mask, r)) continue;
        const float* xr = x + r * C;
        for (int64_t c = c0; c < c1; ++c) {
          const double d = static_cast<double>(xr[c] - sh[c]);
          s1[c] += d;
          s2[c] += d * d;
        }
      }
      // Merge the block into the running (n, M, M2) (Chan, Golub & LeVeque 1979).
      const double na = static_cast<double>(n), nn = static_cast<double>(n + nb);
      for (int64_t c = c0; c < c1; ++c) {
        const double bmean = sh[c] + s1[c] * inv_nb;
        const double bm2 = std::max(0.0, s2[c] - s1[c] * s1[c] * inv_nb);
        const double delta = bmean - M[c];
        M[c] += delta * nb / nn;
        M2[c] += bm2 + delta * delta * na * nb / nn;
      }
      n += nb;
    }
    for (int64_t c = c0; c < c1; ++c) {
      const double v = n > 0 ? std::max(0.0, M2[c] / static_cast<double>(n)) : 0.0;
      split_mean(M[c], &mean[c], &mean_lo[c]);
      if (var) var[c] = static_cast<float>(v);
      rstd[c] = static_cast<float>(1.0 / std::sqrt(v + static_cast<double>(eps)));
    }
  });
}

void batchnorm_apply(const float* x, const float* mask, const float* gamma, const float* beta,
                     const float* mean, const float* mean_lo, const float* rstd, int64_t R,
                     int64_t C, float* y) {
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = gamma ? rstd[c] * gamma[c] : rstd[c];
    shift[c] = beta ? beta[c] : 0.0f;
  }
  const float* sc = scale.data();
  const float* sb = shift.data();
  parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* yr = y + r * C;
      if (!valid(mask, r)) {
        for (int64_t c = 0; c < C; ++c) yr[c] = 0.0f;
        continue;
      }
      const float* xr = x + r * C;
      for (int64_t c = 0; c < C; ++c) yr[c] = ((xr[c] - mean[c]) - mean_lo[c]) * sc[c] + sb[c];
    }
  });
}

void batchnorm_backward(const float* dy, const float* x, const float* mask, const float* gamma,
                        const float* mean, const float* mean_lo, const float* rstd, int64_t R,
                        int64_t C, int64_t n, bool batch_stats, const NormGrads& grads) {
  const bool need_sums = grads.dgamma || grads.dbeta || (grads.dx && batch_stats);
  // Per channel: Σ dy and Σ dy * (x - mean) over valid rows, in double, one pass over x and dy.
  std::vector<double> sums(need_sums ? static_cast<size_t>(2 * C) : 0, 0.0);
  if (need_sums) {
    parallel_for(C, kChannelGrain, [&](int64_t c0, int64_t c1) {
      double* sdy = sums.data();
      double* sdx = sdy + C;
      for (int64_t r = 0; r < R; ++r) {
        if (!valid(mask, r)) continue;
        const float* dyr = dy + r * C;
        const float* xr = x + r * C;
        for (int64_t c = c0; c < c1; ++c) {
          const float d = dyr[c];
          sdy[c] += d;
          sdx[c] += static_cast<double>(d * ((xr[c] - mean[c]) - mean_lo[c]));
        }
      }
    });
  }
  const double* sdy = sums.data();
  const double* sdx = sums.data() + C;
  for (int64_t c = 0; c < C; ++c) {
    if (grads.dbeta) store(grads.dbeta + c, static_cast<float>(sdy[c]), grads.dbeta_add);
    if (grads.dgamma) store(grads.dgamma + c, static_cast<float>(sdx[c] * rstd[c]), grads.dgamma_add);
  }
  if (!grads.dx) return;
  // dx = p*dy + q - s*(x - mean) per channel (the closed form with its constants folded).
  std::vector<float> coef(static_cast<size_t>(3 * C));
  float* p = coef.data();
  float* q = p + C;
  float* s = p + 2 * C;
  for (int64_t c = 0; c < C; ++c) {
    const double k1 = static_cast<double>(gamma ? gamma[c] : 1.0f) * rstd[c];
    p[c] = static_cast<float>(k1);
    if (batch_stats) {
      const double a = sdy[c] / static_cast<double>(n);                   // mean(dy)
      const double b = sdx[c] * rstd[c] / static_cast<double>(n);         // mean(dy * x̂)
      q[c] = static_cast<float>(-k1 * a);
      s[c] = static_cast<float>(k1 * b * rstd[c]);
    } else {
      q[c] = s[c] = 0.0f;
    }
  }
  float* dx = grads.dx;
  const bool add = grads.dx_add;
  parallel_for(R, row_grain(C), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* dxr = dx + r * C;
      if (!valid(mask, r)) {
        if (!add)
          for (int64_t c = 0; c < C; ++c) dxr[c] = 0.0f;
        continue;
      }
      const float* dyr = dy + r * C;
      const float* xr = x + r * C;
      if (add)
        for (int64_t c = 0; c < C; ++c)
          dxr[c] += p[c] * dyr[c] + q[c] - s[c] * ((xr[c] - mean[c]) - mean_lo[c]);
      else
        for (int64_t c = 0; c < C; ++c)
          dxr[c] = p[c] * dyr[c] + q[c] - s[c] * ((xr[c] - mean[c]) - mean_lo[c]);
    }
  });
}

NormReference batchnorm_reference(const Tensor& x, const Tensor& mask, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps, bool training,
                                  const Tensor& running_mean, const Tensor& running_var) {
  const int64_t C = x.size(-1);
  const int64_t R = x.numel() / C;
  const float* px = x.data();
  auto ok = [&](int64_t r) { return !mask.defined() || mask.data()[r] != 0.0f; };
  int64_t n = 0;
  for (int64_t r = 0; r < R; ++r) n += ok(r);
  NormReference ref;
  ref.mean.assign(C, 0.0);
  ref.var.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    if (training) {
      double m = 0.0, v = 0.0;
      for (int64_t r = 0; r < R; ++r)
        if (ok(r)) m += px[r * C + c];
      m /= n;
      for (int64_t r = 0; r < R; ++r)
        if (ok(r)) v += (px[r * C + c] - m) * (px[r * C + c] - m);
      ref.mean[c] = m;
      ref.var[c] = v / n;
    } else {
      ref.mean[c] = running_mean.data()[c];
      ref.var[c] = running_var.data()[c];
    }
  }
  ref.y.assign(R * C, 0.0);
  const bool back = dy.defined();
  if (back) {
    ref.dx.assign(R * C, 0.0);
    ref.dgamma.assign(C, 0.0);
    ref.dbeta.assign(C, 0.0);
  }
  for (int64_t c = 0; c < C; ++c) {
    const double rs = 1.0 / std::sqrt(ref.var[c] + eps);
    const double g = gamma.defined() ? gamma.data()[c] : 1.0;
    const double b = beta.defined() ? beta.data()[c] : 0.0;
    double sdy = 0.0, sdyxh = 0.0;
    for (int64_t r = 0; r < R; ++r) {
      if (!ok(r)) continue;
      const double xh = (px[r * C + c] - ref.mean[c]) * rs;
      ref.y[r * C + c] = xh * g + b;
      if (back) {
        sdy += dy.data()[r * C + c];
        sdyxh += dy.data()[r * C + c] * xh;
      }
    }
    if (!back) continue;
    ref.dbeta[c] = sdy;
    ref.dgamma[c] = sdyxh;
    for (int64_t r = 0; r < R; ++r) {
      if (!ok(r)) continue;
      const double xh = (px[r * C + c] - ref.mean[c]) * rs;
      const double d = dy.data()[r * C + c];
      ref.dx[r * C + c] = training ? g * rs * (d - sdy / n - xh * sdyxh / n) : g * rs * d;
    }
  }
  return ref;
}

}  // namespace kernels

int64_t count_valid(const Tensor& mask, int64_t rows) {
  if (!mask.defined()) return rows;
  int64_t n = 0;
  const float* m = mask.data();
  for (int64_t r = 0; r < mask.numel(); ++r) n += m[r] != 0.0f;
  return n;
}

Tensor batch_norm(const Tensor& x, const Tensor& mask, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
  if (!x.defined()) throw ShapeError("batch_norm: called with an undefined input");
  if (x.dim() < 2)
    throw ShapeError("batch_norm: expected an input of shape (N, C) or (B, T, C), got " +
                     shape_str(x.shape()));
  const int64_t C = x.size(-1);
  const int64_t R = x.numel() / std::max<int64_t>(1, C);
  const Shape feat{C};
  auto check_vec = [&](const Tensor& t, const char* what) {
    if (t.defined() && t.numel() != C)
      throw ShapeError(std::string("batch_norm: ") + what + " of shape " + shape_str(t.shape()) +
                       " does not match the " + std::to_string(C) + " features of input " +
                       shape_str(x.shape()));
  };
  check_vec(weight, "weight");
  check_vec(bias, "bias");
  check_vec(running_mean, "running_mean");
  check_vec(running_var, "running_var");
  if (mask.defined()) {
    const Shape expect(x.shape().begin(), x.shape().end() - 1);
    if (mask.shape() != expect)
      throw ShapeError("batch_norm: mask of shape " + shape_str(mask.shape()) +
                       " does not match input " + shape_str(x.shape()) + " (expected " +
                       shape_str(expect) + ")");
  }
  if (!(eps > 0.0f)) throw ValueError("batch_norm: eps must be > 0, got " + std::to_string(eps));
  const int64_t n = count_valid(mask, R);

  Tensor mean = Tensor::empty(feat), mean_lo = Tensor::empty(feat), rstd = Tensor::empty(feat);
  if (training) {
    if (n <= 1)
      throw ValueError("batch_norm: expected more than 1 value per channel when training, got "
                       "input of shape " + shape_str(x.shape()) +
                       (mask.defined() ? " with " + std::to_string(n) + " valid position(s)" : "") +
                       " (use a larger batch, LayerNorm, or eval mode)");
    Tensor var = Tensor::empty(feat);
    kernels::batchnorm_stats(x.data(), mask.defined() ? mask.data() : nullptr, R, C, eps,
                             mean.data(), mean_lo.data(), var.data(), rstd.data());
    if (running_mean.defined() && running_var.defined()) {
      // PyTorch's convention: momentum weights the new value; running_var is unbiased.
      const double m = momentum, unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      float* rm = Tensor(running_mean).data();
      float* rv = Tensor(running_var).data();
      for (int64_t c = 0; c < C; ++c) {
        const double bm = static_cast<double>(mean.data()[c]) + mean_lo.data()[c];
        rm[c] = static_cast<float>((1.0 - m) * rm[c] + m * bm);
        rv[c] = static_cast<float>((1.0 - m) * rv[c] + m * var.data()[c] * unbias);
      }
    }
  } else {
    if (!running_mean.defined() || !running_var.defined())
      throw ValueError("batch_norm: evaluation mode needs running_mean and running_var");
    for (int64_t c = 0; c < C; ++c) {
      mean.data()[c] = running_mean.data()[c];
      mean_lo.data()[c] = 0.0f;
      rstd.data()[c] = static_cast<float>(
          1.0 / std::sqrt(std::max(0.0, static_cast<double>(running_var.data()[c])) + eps));
    }
  }

  Tensor y = Tensor::empty(x.shape());
  const float* pm = mask.defined() ? mask.data() : nullptr;
  kernels::batchnorm_apply(x.data(), pm, weight.defined() ? weight.data() : nullptr,
                           bias.defined() ? bias.data() : nullptr, mean.data(), mean_lo.data(),
                           rstd.data(), R, C, y.data());
  if (needs_grad({&x, &weight, &bias})) {
    record(y, "batch_norm", {x, weight, bias},
           [x, mask, weight, mean, mean_lo, rstd, R, C, n, training](const Tensor& dy,
                                                                     GradSink& sink) {
             const kernels::NormGrads g = kernels::norm_grad_targets(sink);
             kernels::batchnorm_backward(dy.data(), x.data(),
                                         mask.defined() ? mask.data() : nullptr,
                                         weight.defined() ? weight.data() : nullptr, mean.data(),
                                         mean_lo.data(), rstd.data(), R, C, n, training, g);
           });
  }
  return y;
}

}  // namespace nl
