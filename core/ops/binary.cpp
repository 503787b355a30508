// Elementwise binary ops with NumPy broadcasting: add, sub, mul, div, and sum_to (the
// reduction that undoes broadcasting in their backwards).
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/broadcast.h"
#include "core/threading.h"

namespace nl {
namespace {

constexpr int64_t kGrain = kGrainCheap;  // elements per thread below which loops stay serial

// Is `small` exactly the trailing axes of `out` (a bias (C) onto (B,T,C))?
bool is_suffix(const Shape& small, const Shape& out) {
  if (small.size() > out.size()) return false;
  return std::equal(small.begin(), small.end(), out.end() - small.size());
}

// out[i] = f(a[.], b[.]) over the broadcast shape; the common cases get flat loops.
template <class F>
Tensor binary_forward(const char* op, const Tensor& a, const Tensor& b, F f) {
  if (!a.defined() || !b.defined())
    throw ShapeError(std::string(op) + ": called with an undefined tensor");
  const Shape out_shape = broadcast_shapes(op, a.shape(), b.shape());
  Tensor out = Tensor::empty(out_shape);
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  const int64_t n = out.numel();
  if (n == 0) return out;
  if (a.shape() == b.shape()) {
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], pb[i]);
    });
  } else if (b.numel() == 1 && a.numel() == n) {
    const float bv = pb[0];
    parallel_for(n, kGrain, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) po[i] = f(pa[i], bv);
    });
  } else if (a.numel() == n && is_suffix(b.shape(), out_shape)) {
    const int64_t inner = b.numel();
    parallel_for(n / inner, kGrain / inner + 1, [&](int64_t s, int64_t e) {
      for (int64_t r = s; r < e; ++r)
        for (int64_t j = 0; j < inner; ++j) po[r * inner + j] = f(pa[r * inner + j], pb[j]);
    });
  } else {
    const auto sa = detail::broadcast_strides(a.shape(), out_shape);
    const auto sb = detail::broadcast_strides(b.shape(), out_shape);
    detail::for_each_run(out_shape, sa, sb,
                         [&](int64_t o, int64_t ia, int64_t ib, int64_t len, int64_t da,
                             int64_t db) {
                           for (int64_t k = 0; k < len; ++k)
                             po[o + k] = f(pa[ia + k * da], pb[ib + k * db]);
                         });
  }
  return out;
}

}  // namespace

// ---- sum_to ----------------------------------------------------------------------------------
Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  // Validate: `shape` must broadcast to g's shape.
  if (broadcast_shapes("sum_to", shape, g.shape()) != g.shape())
    throw ShapeError("sum_to: shape " + shape_str(shape) + " does not broadcast to " +
                     shape_str(g.shape()));
  Tensor out = Tensor::zeros(shape);
  float* po = out.data();
  const float* pg = g.data();
  if (is_suffix(shape, g.shape())) {  // sum over leading rows: the bias-gradient case
    const int64_t inner = out.numel();
    const int64_t rows = inner ? g.numel() / inner : 0;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < inner; ++j) po[j] += pg[r * inner + j];
    return out;
  }
  const auto so = detail::broadcast_strides(shape, g.shape());
  const auto sg = contiguous_strides(g.shape());
  detail::for_each_run(g.shape(), so, sg,
                       [&](int64_t, int64_t io, int64_t ig, int64_t len, int64_t dout,
                           int64_t dg) {
                         for (int64_t k = 0; k < len; ++k) po[io + k * dout] += pg[ig + k * dg];
                       });
  return out;
}

// ---- add / sub -------------------------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("add", a, b, [](float x, float y) { return x + y; });
  if (needs_grad({&a, &b})) {
    record(out, "add", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& d, GradSink& g) {
      if (g.needs(0)) g.add(0, sum_to(d, sa));
      if (g.needs(1)) g.add(1, sum_to(d, sb));
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("sub", a, b, [](float x, float y) { return x - y; });
  if (needs_grad({&a, &b})) {
    record(out, "sub", {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& d, GradSink& g) {
      if (g.needs(0)) g.add(0, sum_to(d, sa));
      if (g.needs(1)) g.add(1, sum_to(neg(d), sb));
    });
  }
  return out;
}

// ---- mul / div -------------------------------------------------------------------------------
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("mul", a, b, [](float x, float y) { return x * y; });
  if (needs_grad({&a, &b})) {
    record(out, "mul", {a, b}, [a = a.detach(), b = b.detach()](const Tensor& d, GradSink& g) {
      if (g.needs(0)) g.add(0, sum_to(mul(d, b), a.shape()));
      if (g.needs(1)) g.add(1, sum_to(mul(d, a), b.shape()));
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward("div", a, b, [](float x, float y) { return x / y; });
  if (needs_grad({&a, &b})) {
    record(out, "div", {a, b},
           [a = a.detach(), b = b.detach(), y = out.detach()](const Tensor& d, GradSink& g) {
             // d(a/b)/da = 1/b;  d(a/b)/db = -a/b^2 = -y/b
             if (g.needs(0)) g.add(0, sum_to(div(d, b), a.shape()));
             if (g.needs(1)) g.add(1, sum_to(neg(div(mul(d, y), b)), b.shape()));
           });
  }
  return out;
}

}  // namespace nl
