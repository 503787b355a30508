// Losses: cross_entropy from logits with class-index targets (fused log-softmax forward and
// backward, mask and ignore_index, mean over counted positions) and mse_loss with an
// optional mask. Both return a scalar; 0 when no position counts.
#include <cmath>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/lane_reduce.h"
#include "core/ops.h"
#include "core/threading.h"

namespace nl {
namespace {

constexpr int64_t kGrain = kGrainHeavy;

std::string shapes(const Tensor& a, const Tensor& b) {
  return shape_str(a.shape()) + " and " + shape_str(b.shape());
}

// For every position: its class id, or -1 when it does not count (masked or ignore_index),
// as floats in a tensor from the caching allocator (a std::vector here was the training
// step's one steady-state heap block big enough to page-fault: 16 KB at 2048 positions). Every
// valid id is exactly a float already: it comes from the float targets. Throws ValueError
// naming a bad id. targets: (N) or (B,T); mask like targets or undefined.
Tensor counted_classes(const Tensor& targets, const Tensor& mask, int64_t C, int64_t ignore_index,
                       int64_t* count) {
  const int64_t n = targets.numel();
  Tensor cls = Tensor::empty({n});
  float* pc = cls.data();
  const float* pt = targets.data();
  const float* pm = mask.defined() ? mask.data() : nullptr;
  *count = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float t = pt[i];
    if ((pm && pm[i] == 0.0f) || t == static_cast<float>(ignore_index)) {
      pc[i] = -1.0f;
      continue;
    }
    if (!(t >= 0.0f && t < static_cast<float>(C)) || t != std::floor(t)) {
      std::ostringstream id;
      id << t;
      throw ValueError("cross_entropy: target class id " + id.str() + " at position " +
                       std::to_string(i) + " is not a class index in [0, " + std::to_string(C) +
                       ")");
    }
    pc[i] = t;
    ++*count;
  }
  return cls;
}

}  // namespace

// ---- cross_entropy ---------------------------------------------------------------------------
// logits x: (N,C) or (B,T,C); loss_i = logsumexp(x_i) - x_i[t_i];  L = sum_counted loss_i / n.
// Backward: dx_i = dL * (softmax(x_i) - onehot(t_i)) / n on counted rows, 0 elsewhere.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& mask,
                     int64_t ignore_index) {
  if (!logits.defined() || !targets.defined())
    throw ShapeError("cross_entropy: called with an undefined tensor");
  if ((logits.dim() != 2 && logits.dim() != 3) || targets.dim() != logits.dim() - 1 ||
      !std::equal(targets.shape().begin(), targets.shape().end(), logits.shape().begin()))
    throw ShapeError("cross_entropy: logits " + shape_str(logits.shape()) + " and targets " +
                     shape_str(targets.shape()) +
                     " do not match (expected logits (N,C) with targets (N), or (B,T,C) with "
                     "(B,T))");
  if (mask.defined() && mask.shape() != targets.shape())
    throw ShapeError("cross_entropy: mask " + shape_str(mask.shape()) +
                     " must have the targets' shape " + shape_str(targets.shape()));
  const int64_t C = logits.size(-1);
  const int64_t rows = targets.numel();
  int64_t count = 0;
  const Tensor cls = counted_classes(targets, mask, C, ignore_index, &count);
  const float* pcls = cls.data();

  // Per-row max m and log(s), s = sum exp(x - m) (kept for the backward), and per-chunk loss
  // partials in chunk order. log p = (x - m) - log(s): forming m + log(s) first would round
  // it to an ulp of m (4e-6 at logits ~100) in every row.
  Tensor stats = Tensor::empty({rows, 2});
  const float* px = logits.data();
  float* pstats = stats.data();
  const int64_t grain = kGrain / (C + 1) + 1;
  std::vector<double> partial(std::max(1, parallel_chunks(rows, grain)), 0.0);
  parallel_for_chunks(rows, grain, [&](int c, int64_t s, int64_t e) {
    double acc = 0.0;
    for (int64_t i = s; i < e; ++i) {
      if (pcls[i] < 0.0f) continue;
      const int64_t t = static_cast<int64_t>(pcls[i]);
      const float* x = px + i * C;
      const float m = lanes::max(x, C);
      const float sum = lanes::sum(C, [x, m](int64_t k) { return fast_exp_nonpos_or_zero(x[k] - m); });
      pstats[2 * i] = m;
      pstats[2 * i + 1] = std::log(sum);
      acc -= static_cast<double>((x[t] - m) - pstats[2 * i + 1]);
    }
    partial[c] = acc;
  });
  double total = 0.0;
  for (double v : partial) total += v;
  Tensor out = Tensor::scalar(count ? static_cast<float>(total / count) : 0.0f);

  if (needs_grad({&logits})) {
    record(out, "cross_entropy", {logits},
           [x = logits.detach(), stats, cls, count, C, grain](const Tensor& d, GradSink& g) {
             bool fresh = false;
             Tensor& dx = g.target(0, &fresh);
             const float scale = count ? d.data()[0] / static_cast<float>(count) : 0.0f;
             const float *px = x.data(), *pstats = stats.data();
             float* pg = dx.data();
             const float* pcls = cls.data();
             const int64_t rows = cls.numel();
             parallel_for(rows, grain, [&](int64_t s, int64_t e) {
               for (int64_t i = s; i < e; ++i) {
                 const int64_t t = static_cast<int64_t>(pcls[i]);  // -1: not counted
                 const float* xi = px + i * C;
                 float* gi = pg + i * C;
                 if (t < 0) {
                   if (fresh)
                     for (int64_t k = 0; k < C; ++k) gi[k] = 0.0f;
                   continue;
                 }
                 const float m = pstats[2 * i], ls = pstats[2 * i + 1];
                 // p_k = exp((x_k - m) - log s) <= 1: one vectorised pass per row
                 if (fresh)
                   for (int64_t k = 0; k < C; ++k) gi[k] = scale * fast_exp_nonpos_or_zero((xi[k] - m) - ls);
                 else
                   for (int64_t k = 0; k < C; ++k) gi[k] += scale * fast_exp_nonpos_or_zero((xi[k] - m) - ls);
                 gi[t] -= scale;
               }
             });
           });
  }
  return out;
}

// ---- mse_loss --------------------------------------------------------------------------------
// L = sum_counted (p - t)^2 / n;  dp = 2 (p - t) / n * dL on counted positions, dt = -dp.
Tensor mse_loss(const Tensor& pred, const Tensor& target, const Tensor& mask) {
  if (!pred.defined() || !target.defined())
    throw ShapeError("mse_loss: called with an undefined tensor");
  if (pred.shape() != target.shape())
    throw ShapeError("mse_loss: pred and target shapes differ: " + shapes(pred, target));
  if (mask.defined() && mask.shape() != pred.shape())
    throw ShapeError("mse_loss: mask " + shape_str(mask.shape()) + " must have pred's shape " +
                     shape_str(pred.shape()));
  const int64_t n = pred.numel();
  const float *pp = pred.data(), *pt = target.data();
  const float* pm = mask.defined() ? mask.data() : nullptr;
  std::vector<double> partial(std::max(1, parallel_chunks(n, kGrainCheap)), 0.0);
  std::vector<int64_t> counts(partial.size(), 0);
  parallel_for_chunks(n, kGrainCheap, [&](int c, int64_t s, int64_t e) {
    double acc = 0.0;
    int64_t cnt = 0;
    for (int64_t i = s; i < e; ++i) {
      if (pm && pm[i] == 0.0f) continue;
      const double diff = static_cast<double>(pp[i]) - pt[i];
      acc += diff * diff;
      ++cnt;
    }
    partial[c] = acc;
    counts[c] = cnt;
  });
  double total = 0.0;
  int64_t count = 0;
  for (size_t c = 0; c < partial.size(); ++c) {
    total += partial[c];
    count += counts[c];
  }
  Tensor out = Tensor::scalar(count ? static_cast<float>(total / count) : 0.0f);
  if (needs_grad({&pred, &target})) {
    record(out, "mse_loss", {pred, target},
           [p = pred.detach(), t = target.detach(), m = mask.defined() ? mask.detach() : Tensor(),
            count](const Tensor& d, GradSink& g) {
             const float scale = count ? 2.0f * d.data()[0] / static_cast<float>(count) : 0.0f;
             const float *pp = p.data(), *pt = t.data();
             const float* pm = m.defined() ? m.data() : nullptr;
             for (size_t input = 0; input < 2; ++input) {
               if (!g.needs(input)) continue;
               const float sign = input == 0 ? scale : -scale;
               bool fresh = false;
               Tensor& dst = g.target(input, &fresh);
               float* pg = dst.data();
               parallel_for(dst.numel(), kGrainCheap, [&](int64_t s, int64_t e) {
                 for (int64_t i = s; i < e; ++i) {
                   const float v = (pm && pm[i] == 0.0f) ? 0.0f : sign * (pp[i] - pt[i]);
                   pg[i] = fresh ? v : pg[i] + v;
                 }
               });
             }
           });
  }
  return out;
}

}  // namespace nl
