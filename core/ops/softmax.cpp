// softmax and log_softmax over the last axis, numerically stable (the row maximum is
// subtracted before exp). x, y: (..., C), processed as rows of C.
//
// Fully masked rows: a row whose entries are all -inf (an attention query that may attend to
// nothing) has no defined softmax (0/0). We return all zeros for softmax (the row contributes
// nothing downstream, and no NaN escapes into the rest of the network) and all -inf for
// log_softmax (log of those zeros); the gradient into such a row is zero for both, since its
// inputs are constants fixed by the mask.
//
// Backward, closed form with y = softmax(x) per row:
//   softmax:     dx = y * (dy - sum(dy * y))
//   log_softmax: dx = dy - exp(y) * sum(dy)        (y = log_softmax(x))
// log_softmax is formed as (x - m) - log(s) with s = sum exp(x - m), as PyTorch does.
#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/lane_reduce.h"
#include "core/ops.h"
#include "core/threading.h"

namespace nl {
namespace {

constexpr int64_t kGrain = kGrainHeavy;  // elements per thread (rows call exp per element)

struct Rows {
  int64_t rows, C;
};

Rows rows_of(const char* op, const Tensor& a) {
  if (!a.defined()) throw ShapeError(std::string(op) + ": called with an undefined tensor");
  if (a.dim() == 0)
    throw ShapeError(std::string(op) + ": needs at least one axis, got shape " +
                     shape_str(a.shape()));
  const int64_t C = a.size(-1);
  return {C ? a.numel() / C : 0, C};
}

// Runs fn(row) for every row, split over the pool.
template <class F>
void for_rows(const Rows& r, F fn) {
  parallel_for(r.rows, kGrain / (r.C + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) fn(i);
  });
}

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

}  // namespace

Tensor softmax(const Tensor& a) {
  const Rows r = rows_of("softmax", a);
  Tensor out = Tensor::empty(a.shape());
  const float* px = a.data();
  float* py = out.data();
  for_rows(r, [&](int64_t i) {
    const float* x = px + i * r.C;
    float* y = py + i * r.C;
    const float m = lanes::max(x, r.C);
    if (m == kNegInf) {  // fully masked row: zeros (see the file comment)
      for (int64_t k = 0; k < r.C; ++k) y[k] = 0.0f;
      return;
    }
    for (int64_t k = 0; k < r.C; ++k) y[k] = fast_exp_nonpos_or_zero(x[k] - m);
    const float inv = 1.0f / lanes::sum(y, r.C);
    for (int64_t k = 0; k < r.C; ++k) y[k] *= inv;
  });
  if (needs_grad({&a})) {
    record(out, "softmax", {a}, [r, y = out.detach()](const Tensor& d, GradSink& g) {
      bool fresh = false;
      Tensor& da = g.target(0, &fresh);
      const float *pd = d.data(), *pyy = y.data();
      float* pa = da.data();
      for_rows(r, [&](int64_t i) {
        const float* yi = pyy + i * r.C;
        const float* di = pd + i * r.C;
        float* gi = pa + i * r.C;
        const float dot = lanes::dot(di, yi, r.C);
        // y == 0 on a masked row, so its gradient is 0 without a special case
        if (fresh)
          for (int64_t k = 0; k < r.C; ++k) gi[k] = yi[k] * (di[k] - dot);
        else
          for (int64_t k = 0; k < r.C; ++k) gi[k] += yi[k] * (di[k] - dot);
      });
    });
  }
  return out;
}

Tensor log_softmax(const Tensor& a) {
  const Rows r = rows_of("log_softmax", a);
  Tensor out = Tensor::empty(a.shape());
  const float* px = a.data();
  float* py = out.data();
  for_rows(r, [&](int64_t i) {
    const float* x = px + i * r.C;
    float* y = py + i * r.C;
    const float m = lanes::max(x, r.C);
    if (m == kNegInf) {  // fully masked row: log(0) everywhere
      for (int64_t k = 0; k < r.C; ++k) y[k] = kNegInf;
      return;
    }
    const float s = lanes::sum(r.C, [x, m](int64_t k) { return fast_exp_nonpos_or_zero(x[k] - m); });
    // (x - m) - log(s), not x - (m + log(s)): rounding m + log(s) near a large m (logits
    // ~100) would cost up to half an ulp of m in every output.
    const float ls = std::log(s);
    for (int64_t k = 0; k < r.C; ++k) y[k] = (x[k] - m) - ls;
  });
  if (needs_grad({&a})) {
    record(out, "log_softmax", {a}, [r, y = out.detach()](const Tensor& d, GradSink& g) {
      bool fresh = false;
      Tensor& da = g.target(0, &fresh);
      const float *pd = d.data(), *pyy = y.data();
      float* pa = da.data();
      for_rows(r, [&](int64_t i) {
        const float* yi = pyy + i * r.C;
        const float* di = pd + i * r.C;
        float* gi = pa + i * r.C;
        const bool masked = r.C > 0 && yi[0] == kNegInf && lanes::max(yi, r.C) == kNegInf;
        const float sd = masked ? 0.0f : lanes::sum(di, r.C);
        for (int64_t k = 0; k < r.C; ++k) {
          const float v = masked ? 0.0f : di[k] - fast_exp_nonpos_or_zero(yi[k]) * sd;
          gi[k] = fresh ? v : gi[k] + v;
        }
      });
    });
  }
  return out;
}

}  // namespace nl
