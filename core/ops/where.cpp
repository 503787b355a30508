// Selection: where(cond, a, b) with broadcasting of all three, and masked_fill(a, mask, v)
// with the mask broadcast against a (the attention-mask case: a causal (T,T) or key-padding
// (B,1,1,T) mask onto (B,H,T,T) scores).
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/broadcast.h"
#include "core/ops/elementwise.h"
#include "core/threading.h"

namespace nl {
namespace {

// Calls fn(o, m, len, dm) for each run of the last axis of `shape`: o is the flat output
// index of the run's start, m the offset of the same element in an operand with broadcast
// strides `sm`, dm that operand's step along the run. Parallel over the leading axis.
template <class F>
void for_runs(const Shape& shape, const std::vector<int64_t>& sm, F fn) {
  auto serial = [&](const Shape& s, const std::vector<int64_t>& st, int64_t o0, int64_t m0) {
    detail::for_each_run(s, st, st,
                         [&](int64_t o, int64_t m, int64_t, int64_t len, int64_t dm, int64_t) {
                           fn(o0 + o, m0 + m, len, dm);
                         });
  };
  if (shape.size() <= 1) {
    serial(shape, sm, 0, 0);
    return;
  }
  const Shape rest(shape.begin() + 1, shape.end());
  const std::vector<int64_t> srest(sm.begin() + 1, sm.end());
  const int64_t block = shape_numel(rest);
  parallel_for(shape[0], kGrainCheap / (block + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) serial(rest, srest, i * block, i * sm[0]);
  });
}

// sel[o] = (cond broadcast to `out` at o) != 0, as 1/0 bytes.
std::vector<uint8_t> selection(const Tensor& cond, const Shape& out) {
  std::vector<uint8_t> sel(shape_numel(out));
  const float* pc = cond.data();
  for_runs(out, detail::broadcast_strides(cond.shape(), out),
           [&](int64_t o, int64_t m, int64_t len, int64_t dm) {
             for (int64_t k = 0; k < len; ++k) sel[o + k] = pc[m + k * dm] != 0.0f;
           });
  return sel;
}

// v broadcast to `out` and gathered into a contiguous buffer (no-op when shapes agree).
Tensor expand(const Tensor& v, const Shape& out) {
  if (v.shape() == out) return v;
  Tensor e = Tensor::empty(out);
  const float* pv = v.data();
  float* pe = e.data();
  for_runs(out, detail::broadcast_strides(v.shape(), out),
           [&](int64_t o, int64_t m, int64_t len, int64_t dm) {
             for (int64_t k = 0; k < len; ++k) pe[o + k] = pv[m + k * dm];
           });
  return e;
}

}  // namespace

// cond, a, b broadcast together -> out; out = cond != 0 ? a : b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  if (!cond.defined() || !a.defined() || !b.defined())
    throw ShapeError("where: called with an undefined tensor");
  const Shape ab = broadcast_shapes("where", a.shape(), b.shape());
  const Shape out_shape = broadcast_shapes("where", cond.shape(), ab);
  auto sel = std::make_shared<std::vector<uint8_t>>(selection(cond, out_shape));
  const Tensor ea = expand(a, out_shape), eb = expand(b, out_shape);
  Tensor out = Tensor::empty(out_shape);
  const float *pa = ea.data(), *pb = eb.data();
  const uint8_t* ps = sel->data();
  detail::map_into(out.data(), out.numel(), kGrainCheap,
                   [pa, pb, ps](int64_t k) {
                     const float va = pa[k], vb = pb[k];  // both loaded: a select, not a branch
                     return ps[k] ? va : vb;
                   });
  if (needs_grad({&a, &b})) {
    record(out, "where", {a, b}, [sel, sa = a.shape(), sb = b.shape()](const Tensor& d,
                                                                       GradSink& g) {
      const float* pd = d.data();
      const uint8_t* ps = sel->data();
      for (size_t i = 0; i < 2; ++i) {
        if (!g.needs(i)) continue;
        const uint8_t want = i == 0 ? 1 : 0;  // a takes the selected positions, b the rest
        Tensor part = Tensor::empty(d.shape());
        detail::map_into(part.data(), d.numel(), kGrainCheap,
                         [pd, ps, want](int64_t k) {
                           const float dv = pd[k];  // loaded on every lane: the select vectorises
                           return ps[k] == want ? dv : 0.0f;
                         });
        g.add(i, sum_to(part, i == 0 ? sa : sb));
      }
    });
  }
  return out;
}

// a: any shape; mask broadcast to a's shape; out = mask != 0 ? value : a.
Tensor masked_fill(const Tensor& a, const Tensor& mask, float value) {
  if (!a.defined() || !mask.defined())
    throw ShapeError("masked_fill: called with an undefined tensor");
  if (broadcast_shapes("masked_fill", a.shape(), mask.shape()) != a.shape())
    throw ShapeError("masked_fill: mask " + shape_str(mask.shape()) +
                     " does not broadcast to the input's shape " + shape_str(a.shape()));
  Tensor out = Tensor::empty(a.shape());
  const float *pa = a.data(), *pm = mask.data();
  float* po = out.data();
  const auto sm = detail::broadcast_strides(mask.shape(), a.shape());
  for_runs(a.shape(), sm, [&](int64_t o, int64_t m, int64_t len, int64_t dm) {
    for (int64_t k = 0; k < len; ++k) po[o + k] = pm[m + k * dm] != 0.0f ? value : pa[o + k];
  });
  if (needs_grad({&a})) {
    // Filled positions are constants: their gradient is 0; the rest pass d through.
    record(out, "masked_fill", {a}, [m = mask.detach(), sm](const Tensor& d, GradSink& g) {
      bool fresh = false;
      Tensor& da = g.target(0, &fresh);
      const float *pd = d.data(), *pm = m.data();
      float* pg = da.data();
      for_runs(d.shape(), sm, [&](int64_t o, int64_t mo, int64_t len, int64_t dm) {
        for (int64_t k = 0; k < len; ++k) {
          const float v = pm[mo + k * dm] != 0.0f ? 0.0f : pd[o + k];
          pg[o + k] = fresh ? v : pg[o + k] + v;
        }
      });
    });
  }
  return out;
}

}  // namespace nl
