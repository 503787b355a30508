// linear: y = x Wᵀ + b in one sgemm onto the bias rows (sgemm_onto_rows: the bias is written
// into y first and the GEMM adds onto it with beta = 1, or where normlab's register kernel takes
// the product the bias joins the first K block's sums as they are stored, the same bits), so
// there is neither OpenBLAS's zeroing pass over y (its beta = 0 path) nor a
// separate broadcast add that reads y and writes a second buffer; in the backward the output
// gradient goes straight into the three GEMM/reduction consumers (no copy through an add node).
//   x: (..., in), W: (out, in), b: (out) or undefined -> y: (..., out)
//   dx = dy W,  dW = dyᵀ x (over all rows),  db = sum over rows of dy (rows in order).
// At 2+ threads dx and dW run at once, one per thread (sgemm_pair: the bits of one thread); the
// forward's product, like any of 1 M multiply-adds or more, is split over the threads by sgemm
// itself (rounding differently from one thread; docs/performance-history.md, eleventh round).
// Rounding: with K = in above OpenBLAS's K block, the bias joins the first partial sum instead of
// the final one (a fixed, deterministic order; docs/performance-history.md, second round, step 4).
#include <cstring>

#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  if (!x.defined() || !w.defined())
    throw ShapeError("linear: called with an undefined tensor");
  if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != w.size(1))
    throw ShapeError("linear: input " + shape_str(x.shape()) + " does not end in in_features of " +
                     "weight " + shape_str(w.shape()));
  const int64_t in = w.size(1), out_f = w.size(0);
  if (b.defined() && b.shape() != Shape{out_f})
    throw ShapeError("linear: bias " + shape_str(b.shape()) + " must be (" +
                     std::to_string(out_f) + ")");
  const int64_t M = in ? x.numel() / in : 0;
  Shape out_shape = x.shape();
  out_shape.back() = out_f;
  Tensor y = Tensor::empty(out_shape);
  if (b.defined())
    sgemm_onto_rows(false, true, M, out_f, in, x.data(), w.data(), b.data(), y.data());
  else
    sgemm(false, true, M, out_f, in, 1.0f, x.data(), w.data(), 0.0f, y.data());
  if (needs_grad({&x, &w, &b})) {
    record(y, "linear", {x, w, b},
           [x = x.detach(), w = w.detach(), M, in, out_f](const Tensor& dy, GradSink& g) {
             const float* pdy = dy.data();
             bool fresh = false;
             if (g.needs(2)) {
               // Row sums in row order, then one add: the same rounding as sum_to + add. Before
               // the products, while dy is still in cache from the op that wrote it: after them it
               // had to come back from memory (1 thread, steps in one process alternated with the
               // order switched: lm_ln 1.8-2.2 % faster, lm_bn 1.1-1.6 %; builds alternated
               // process by process: lm_ln 1.004, lm_bn 1.015, rnn_ln 1.013; same bits).
               Tensor& db = g.target(2, &fresh);
               Tensor tmp = fresh ? db : Tensor::empty({out_f});
               float* s = tmp.data();
               std::memset(s, 0, sizeof(float) * out_f);
               for (int64_t r = 0; r < M; ++r) {
                 const float* row = pdy + r * out_f;
                 for (int64_t j = 0; j < out_f; ++j) s[j] += row[j];
               }
               if (!fresh) {
                 float* d = db.data();
                 for (int64_t j = 0; j < out_f; ++j) d[j] += s[j];
               }
             }
             // dx and dW: independent products, run at once on two threads where that pays.
             GemmCall dx_call, dw_call;
             if (g.needs(0)) {
               Tensor& dx = g.target(0, &fresh);
               dx_call = {false, false, M, in, out_f, 1.0f, pdy, w.data(), fresh ? 0.0f : 1.0f,
                          dx.data()};
             }
             if (g.needs(1)) {
               Tensor& dw = g.target(1, &fresh);
               dw_call = {true, false, out_f, in, M, 1.0f, pdy, x.data(), fresh ? 0.0f : 1.0f,
                          dw.data()};
             }
             sgemm_pair(dx_call, dw_call);  // either may be absent (not needed)
           });
  }
  return y;
}

}  // namespace nl
