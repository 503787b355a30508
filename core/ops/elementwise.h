// Internal helpers for elementwise kernels: a parallel map into a buffer, and the "add into
// input i's gradient, or write it when the buffer is fresh" step every backward needs.
#pragma once
#include <cstdint>

#include "core/autograd.h"
#include "core/threading.h"

namespace nl::detail {

// out[k] = f(k) for k in [0, n), split over the pool.
template <class F>
void map_into(float* out, int64_t n, int64_t grain, F f) {
  parallel_for(n, grain, [&](int64_t s, int64_t e) {
    for (int64_t k = s; k < e; ++k) out[k] = f(k);
  });
}

// Input `i`'s gradient (its shape, n elements) gets += f(k) for every k; a fresh buffer is
// written instead of zeroed-then-added (saves a pass over memory).
template <class F>
void accumulate_grad(GradSink& sink, size_t i, int64_t grain, F f) {
  bool fresh = false;
  Tensor& dst = sink.target(i, &fresh);
  float* d = dst.data();
  const int64_t n = dst.numel();
  if (fresh) {
    map_into(d, n, grain, f);
  } else {
    parallel_for(n, grain, [&](int64_t s, int64_t e) {
      for (int64_t k = s; k < e; ++k) d[k] += f(k);
    });
  }
}

// Input `i`'s gradient f(d[k], k) for every k, d the incoming gradient (of input i's shape):
// written over d itself and handed on when the sink allows it (GradSink::can_pass_on), so no
// fresh buffer is fetched for it (with GELU's backward, about 1 % of the LM step); else as
// accumulate_grad. f gets d's element as a value, so the in-place loop reads and writes through
// one pointer and vectorises like any other.
template <class F>
void pass_on_grad(GradSink& sink, size_t i, const Tensor& d, int64_t grain, F f) {
  if (sink.can_pass_on(i, d)) {
    Tensor own = d;  // the same buffer, writable
    float* w = own.data();
    parallel_for(own.numel(), grain, [&](int64_t s, int64_t e) {
      for (int64_t k = s; k < e; ++k) w[k] = f(w[k], k);
    });
    sink.add(i, own);
    return;
  }
  const float* pd = d.data();
  accumulate_grad(sink, i, grain, [&](int64_t k) { return f(pd[k], k); });
}

}  // namespace nl::detail
