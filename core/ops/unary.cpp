// Elementwise unary ops and scalar arithmetic: add/mul/rsub/rdiv by a scalar, neg, exp, log,
// sqrt, pow, tanh, sigmoid, relu, gelu. Each forward is one parallel pass; each backward is
// one pass that writes (fresh buffer) or adds into the input's gradient, from the saved input
// x or the saved output y, whichever the derivative needs.
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/ops.h"
#include "core/ops/elementwise.h"

namespace nl {
namespace {
using detail::accumulate_grad;
using detail::map_into;
using detail::pass_on_grad;

void check_defined(const char* op, const Tensor& a) {
  if (!a.defined()) throw ShapeError(std::string(op) + ": called with an undefined tensor");
}

// out = f(a) elementwise, a: any shape.
template <class F>
Tensor unary_forward(const char* op, const Tensor& a, int64_t grain, F f) {
  check_defined(op, a);
  Tensor out = Tensor::empty(a.shape());
  const float* x = a.data();
  map_into(out.data(), a.numel(), grain, [&](int64_t k) { return f(x[k]); });
  return out;
}

}  // namespace

// ---- scalar arithmetic -----------------------------------------------------------------------
Tensor add_scalar(const Tensor& a, float s) {
  Tensor out = unary_forward("add_scalar", a, kGrainCheap, [s](float x) { return x + s; });
  if (needs_grad({&a})) {
    record(out, "add_scalar", {a}, [](const Tensor& d, GradSink& g) { g.add(0, d); });
  }
  return out;
}

Tensor mul_scalar(const Tensor& a, float s) {
  Tensor out = unary_forward("mul_scalar", a, kGrainCheap, [s](float x) { return x * s; });
  if (needs_grad({&a})) {
    record(out, "mul_scalar", {a}, [s](const Tensor& d, GradSink& g) {
      pass_on_grad(g, 0, d, kGrainCheap, [s](float dk, int64_t) { return dk * s; });
    });
  }
  return out;
}

Tensor rsub_scalar(float s, const Tensor& a) {
  Tensor out = unary_forward("rsub_scalar", a, kGrainCheap, [s](float x) { return s - x; });
  if (needs_grad({&a})) {
    record(out, "rsub_scalar", {a}, [](const Tensor& d, GradSink& g) {
      pass_on_grad(g, 0, d, kGrainCheap, [](float dk, int64_t) { return -dk; });
    });
  }
  return out;
}

Tensor rdiv_scalar(float s, const Tensor& a) {
  Tensor out = unary_forward("rdiv_scalar", a, kGrainCheap, [s](float x) { return s / x; });
  if (needs_grad({&a})) {
    // d(s/x)/dx = -s/x^2 = -y/x
    record(out, "rdiv_scalar", {a}, [x = a.detach(), y = out.detach()](const Tensor& d, GradSink& g) {
      const float *px = x.data(), *py = y.data();
      pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return -dk * py[k] / px[k]; });
    });
  }
  return out;
}

Tensor neg(const Tensor& a) {
  Tensor out = unary_forward("neg", a, kGrainCheap, [](float x) { return -x; });
  if (needs_grad({&a})) {
    record(out, "neg", {a}, [](const Tensor& d, GradSink& g) {
      pass_on_grad(g, 0, d, kGrainCheap, [](float dk, int64_t) { return -dk; });
    });
  }
  return out;
}

// ---- exp / log / sqrt / pow ------------------------------------------------------------------
Tensor exp(const Tensor& a) {
  Tensor out = unary_forward("exp", a, kGrainHeavy, [](float x) { return std::exp(x); });
  if (needs_grad({&a})) {
    record(out, "exp", {a}, [y = out.detach()](const Tensor& d, GradSink& g) {
      const float* py = y.data();
      pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return dk * py[k]; });
    });
  }
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = unary_forward("log", a, kGrainHeavy, [](float x) { return std::log(x); });
  if (needs_grad({&a})) {
    record(out, "log", {a}, [x = a.detach()](const Tensor& d, GradSink& g) {
      const float* px = x.data();
      pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return dk / px[k]; });
    });
  }
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary_forward("sqrt", a, kGrainCheap, [](float x) { return std::sqrt(x); });
  if (needs_grad({&a})) {
    // d sqrt(x)/dx = 1 / (2 sqrt(x)) = 0.5 / y
    record(out, "sqrt", {a}, [y = out.detach()](const Tensor& d, GradSink& g) {
      const float* py = y.data();
      pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return 0.5f * dk / py[k]; });
    });
  }
  return out;
}

Tensor pow(const Tensor& a, float e) {
  Tensor out = e == 2.0f ? unary_forward("pow", a, kGrainCheap, [](float x) { return x * x; })
                         : unary_forward("pow", a, kGrainHeavy,
                                         [e](float x) { return std::pow(x, e); });
  if (needs_grad({&a})) {
    record(out, "pow", {a}, [x = a.detach(), e](const Tensor& d, GradSink& g) {
      const float* px = x.data();
      if (e == 2.0f) {
        pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return 2.0f * px[k] * dk; });
      } else if (e == 0.0f) {  // constant 1: zero gradient (avoids 0 * x^-1 = NaN at x = 0)
        accumulate_grad(g, 0, kGrainCheap, [](int64_t) { return 0.0f; });
      } else {
        pass_on_grad(g, 0, d, kGrainHeavy, [&](float dk, int64_t k) {
          return dk * e * std::pow(px[k], e - 1.0f);
        });
      }
    });
  }
  return out;
}

// ---- activations -----------------------------------------------------------------------------
Tensor tanh(const Tensor& a) {
  Tensor out = unary_forward("tanh", a, kGrainHeavy, [](float x) { return std::tanh(x); });
  if (needs_grad({&a})) {
    record(out, "tanh", {a}, [y = out.detach()](const Tensor& d, GradSink& g) {
      const float* py = y.data();
      pass_on_grad(g, 0, d, kGrainCheap,
                   [&](float dk, int64_t k) { return dk * (1.0f - py[k] * py[k]); });
    });
  }
  return out;
}

Tensor sigmoid(const Tensor& a) {
  // Stable in both tails: exp is only ever taken of a non-positive number.
  Tensor out = unary_forward("sigmoid", a, kGrainHeavy, [](float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + std::exp(-x));
    const float z = std::exp(x);
    return z / (1.0f + z);
  });
  if (needs_grad({&a})) {
    record(out, "sigmoid", {a}, [y = out.detach()](const Tensor& d, GradSink& g) {
      const float* py = y.data();
      pass_on_grad(g, 0, d, kGrainCheap,
                   [&](float dk, int64_t k) { return dk * py[k] * (1.0f - py[k]); });
    });
  }
  return out;
}

Tensor relu(const Tensor& a) {
  Tensor out = unary_forward("relu", a, kGrainCheap, [](float x) { return x > 0.0f ? x : 0.0f; });
  if (needs_grad({&a})) {
    // The derivative at 0 is taken as 0 (PyTorch's convention). dy is loaded on every lane and
    // then selected: a load only where y > 0 kept the loop scalar, a branch per element that
    // mispredicts on random signs (5 ns per element; the mlp step ran 2 % slower).
    record(out, "relu", {a}, [y = out.detach()](const Tensor& d, GradSink& g) {
      const float* py = y.data();
      pass_on_grad(g, 0, d, kGrainCheap,
                   [py](float dk, int64_t k) { return py[k] > 0.0f ? dk : 0.0f; });
    });
  }
  return out;
}

// GELU, exact form (Hendrycks & Gimpel 2016): y = x * Phi(x), Phi(x) = (1 + erf(x/sqrt2)) / 2;
// dy/dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi). Phi comes from
// fast_normal_cdf (core/fast_math.h, relative error ~1e-7, no libm call). When a gradient is
// needed the forward also writes dy/dx, from the exp and Phi it has already computed (two more
// operations per element), and the backward multiplies by it instead of computing a second exp
// and erfc. The slope takes x's place in memory: the node keeps an edge to x's producer, not x.
Tensor gelu(const Tensor& a) {
  check_defined("gelu", a);
  if (!needs_grad({&a}))
    return unary_forward("gelu", a, kGrainHeavy, [](float x) { return fast_gelu(x); });
  Tensor out = Tensor::empty(a.shape()), slope = Tensor::empty(a.shape());
  const float* x = a.data();
  float *py = out.data(), *ps = slope.data();
  parallel_for(a.numel(), kGrainHeavy, [&](int64_t s, int64_t e) {
    for (int64_t k = s; k < e; ++k) fast_gelu_with_grad(x[k], py + k, ps + k);
  });
  record(out, "gelu", {a}, [slope = std::move(slope)](const Tensor& d, GradSink& g) {
    const float* psl = slope.data();
    pass_on_grad(g, 0, d, kGrainCheap, [&](float dk, int64_t k) { return dk * psl[k]; });
  });
  return out;
}

}  // namespace nl
