// Reductions: sum and mean over all elements or over one axis (keepdim), and max over an axis
// (values + indices, gradient to the first maximal element). An axis reduction views the
// input as (outer, n, inner) with the reduced axis in the middle; sums accumulate in double
// and combine per-chunk partials in chunk order, so results are deterministic.
#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/elementwise.h"
#include "core/threading.h"

namespace nl {
namespace {
using detail::accumulate_grad;

// The input viewed as (outer, n, inner) around `axis`, and the output shape.
struct AxisView {
  int axis;
  int64_t outer, n, inner;
  Shape out_shape;
};

AxisView axis_view(const char* op, const Tensor& a, int64_t axis_in, bool keepdim) {
  if (!a.defined()) throw ShapeError(std::string(op) + ": called with an undefined tensor");
  AxisView v{};
  v.axis = shape_axis(op, axis_in, a.dim());
  const Shape& s = a.shape();
  v.outer = shape_numel(Shape(s.begin(), s.begin() + v.axis));
  v.n = s[v.axis];
  v.inner = shape_numel(Shape(s.begin() + v.axis + 1, s.end()));
  v.out_shape = s;
  if (keepdim) v.out_shape[v.axis] = 1;
  else v.out_shape.erase(v.out_shape.begin() + v.axis);
  return v;
}

// out[o, j] = scale * sum_k x[o, k, j]; x: (outer, n, inner), out: (outer, inner).
void sum_axis_kernel(const float* x, float* out, const AxisView& v, float scale) {
  if (v.inner == 1) {  // reducing the last axis: one contiguous row per output
    parallel_for(v.outer, kGrainCheap / (v.n + 1) + 1, [&](int64_t s, int64_t e) {
      for (int64_t o = s; o < e; ++o) {
        const float* row = x + o * v.n;
        double acc = 0.0;
        for (int64_t k = 0; k < v.n; ++k) acc += row[k];
        out[o] = static_cast<float>(acc * scale);
      }
    });
    return;
  }
  // Tasks are (outer index, block of kBlock columns): each streams its rows of x once and
  // keeps its column sums in a small double array on the stack.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (v.inner + kBlock - 1) / kBlock;
  parallel_for(v.outer * blocks, kGrainCheap / (v.n * kBlock) + 1, [&](int64_t s, int64_t e) {
    double acc[kBlock];
    for (int64_t t = s; t < e; ++t) {
      const int64_t o = t / blocks, jb = (t % blocks) * kBlock;
      const int64_t len = std::min(kBlock, v.inner - jb);
      for (int64_t j = 0; j < len; ++j) acc[j] = 0.0;
      const float* base = x + o * v.n * v.inner + jb;
      for (int64_t k = 0; k < v.n; ++k) {
        const float* row = base + k * v.inner;
        for (int64_t j = 0; j < len; ++j) acc[j] += row[j];
      }
      float* dst = out + o * v.inner + jb;
      for (int64_t j = 0; j < len; ++j) dst[j] = static_cast<float>(acc[j] * scale);
    }
  });
}

// sum/mean over an axis; the backward broadcasts scale * d back along the reduced axis.
Tensor reduce_axis(const char* op, const Tensor& a, int64_t axis, bool keepdim, bool is_mean) {
  const AxisView v = axis_view(op, a, axis, keepdim);
  const float scale = is_mean ? 1.0f / static_cast<float>(v.n) : 1.0f;
  Tensor out = Tensor::empty(v.out_shape);
  sum_axis_kernel(a.data(), out.data(), v, scale);
  if (needs_grad({&a})) {
    record(out, op, {a}, [v, scale](const Tensor& d, GradSink& g) {
      // da[o, k, j] += scale * d[o, j]: parallel over the (o, k) rows of the input
      bool fresh = false;
      Tensor& da = g.target(0, &fresh);
      const float* pd = d.data();
      float* pa = da.data();
      parallel_for(v.outer * v.n, kGrainCheap / (v.inner + 1) + 1, [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) {
          const float* src = pd + (r / v.n) * v.inner;
          float* dst = pa + r * v.inner;
          if (fresh)
            for (int64_t j = 0; j < v.inner; ++j) dst[j] = scale * src[j];
          else
            for (int64_t j = 0; j < v.inner; ++j) dst[j] += scale * src[j];
        }
      });
    });
  }
  return out;
}

// Sum of all elements (double partials per chunk, combined in chunk order) times scale.
Tensor reduce_all(const char* op, const Tensor& a, bool is_mean) {
  if (!a.defined()) throw ShapeError(std::string(op) + ": called with an undefined tensor");
  const int64_t n = a.numel();
  const float* p = a.data();
  std::vector<double> partial(std::max(1, parallel_chunks(n, kGrainCheap)), 0.0);
  parallel_for_chunks(n, kGrainCheap, [&](int c, int64_t s, int64_t e) {
    double acc = 0.0;
    for (int64_t i = s; i < e; ++i) acc += p[i];
    partial[c] = acc;
  });
  double total = 0.0;
  for (double x : partial) total += x;
  // mean of nothing is NaN (as 0/0), matching PyTorch
  const float scale = is_mean ? 1.0f / static_cast<float>(n) : 1.0f;
  Tensor out = Tensor::scalar(static_cast<float>(total * scale));
  if (needs_grad({&a})) {
    record(out, op, {a}, [scale](const Tensor& d, GradSink& g) {
      const float v = d.data()[0] * scale;
      accumulate_grad(g, 0, kGrainCheap, [v](int64_t) { return v; });
    });
  }
  return out;
}

}  // namespace

Tensor sum(const Tensor& a) { return reduce_all("sum", a, false); }
Tensor mean(const Tensor& a) { return reduce_all("mean", a, true); }
Tensor sum(const Tensor& a, int64_t axis, bool keepdim) {
  return reduce_axis("sum", a, axis, keepdim, false);
}
Tensor mean(const Tensor& a, int64_t axis, bool keepdim) {
  return reduce_axis("mean", a, axis, keepdim, true);
}

// ---- max over an axis ------------------------------------------------------------------------
MaxResult max(const Tensor& a, int64_t axis, bool keepdim) {
  const AxisView v = axis_view("max", a, axis, keepdim);
  if (v.n == 0)
    throw ShapeError("max: cannot reduce the empty axis " + std::to_string(v.axis) +
                     " of shape " + shape_str(a.shape()));
  MaxResult r{Tensor::empty(v.out_shape), Tensor::empty(v.out_shape)};
  const float* x = a.data();
  float* pv = r.values.data();
  float* pi = r.indices.data();
  // For each (o, j): the first k with the largest value; NaN counts as the largest (as in
  // PyTorch, a NaN propagates).
  parallel_for(v.outer * v.inner, kGrainCheap / v.n + 1, [&](int64_t s, int64_t e) {
    for (int64_t t = s; t < e; ++t) {
      const int64_t o = t / v.inner, j = t % v.inner;
      const float* col = x + o * v.n * v.inner + j;
      float best = col[0];
      int64_t arg = 0;
      for (int64_t k = 1; k < v.n && !std::isnan(best); ++k) {
        const float c = col[k * v.inner];
        if (c > best || std::isnan(c)) {
          best = c;
          arg = k;
        }
      }
      pv[t] = best;
      pi[t] = static_cast<float>(arg);
    }
  });
  if (needs_grad({&a})) {
    record(r.values, "max", {a}, [v, idx = r.indices](const Tensor& d, GradSink& g) {
      Tensor& da = g.grad(0);
      const float *pd = d.data(), *pidx = idx.data();
      float* pa = da.data();
      for (int64_t t = 0; t < v.outer * v.inner; ++t) {
        const int64_t o = t / v.inner, j = t % v.inner;
        pa[(o * v.n + static_cast<int64_t>(pidx[t])) * v.inner + j] += pd[t];
      }
    });
  }
  return r;
}

}  // namespace nl
