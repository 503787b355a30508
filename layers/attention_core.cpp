// scaled_masked_softmax (see attention.h): the attention weights softmax(scale * scores) with
// the causal and key-padding masks, one autograd node over the fused kernels of
// layers/kernels/masked_softmax.h (no separate scaling or masked_fill pass, no mask tensor).
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "layers/attention.h"
#include "layers/kernels/masked_softmax.h"

namespace nl {
namespace {

// key_valid: undefined, or (B, S) with a zero somewhere (else no key is masked -> null).
const float* key_valid_data(const Tensor& key_valid, int64_t B, int64_t S, const char* op) {
  if (!key_valid.defined()) return nullptr;
  if (key_valid.shape() != Shape{B, S})
    throw ShapeError(std::string(op) + ": key_padding_mask " + shape_str(key_valid.shape()) +
                     " must be (B,T) = " + shape_str({B, S}));
  const float* p = key_valid.data();
  for (int64_t i = 0; i < B * S; ++i)
    if (p[i] == 0.0f) return p;
  return nullptr;
}

}  // namespace

Tensor scaled_masked_softmax(const Tensor& scores, const Tensor& key_valid, int64_t heads,
                             bool causal, float scale) {
  if (!scores.defined() || scores.dim() != 3 || heads < 1 || scores.size(0) % heads != 0)
    throw ShapeError("scaled_masked_softmax: scores " +
                     (scores.defined() ? shape_str(scores.shape()) : "undefined") +
                     " must be (B*heads,T,S) with heads = " + std::to_string(heads));
  const int64_t N = scores.size(0), T = scores.size(1), S = scores.size(2);
  kernels::SoftmaxMask mask;
  mask.key_valid = key_valid_data(key_valid, N / heads, S, "scaled_masked_softmax");
  mask.heads = heads;
  mask.causal = causal;
  Tensor y = Tensor::empty(scores.shape());
  kernels::masked_softmax_forward(scores.data(), y.data(), N, T, S, scale, mask);
  if (needs_grad({&scores})) {
    record(y, "scaled_masked_softmax", {scores},
           [y0 = y.detach(), N, T, S, scale](const Tensor& dy, GradSink& g) {
             bool fresh = false;
             Tensor& ds = g.target(0, &fresh);
             kernels::masked_softmax_backward(y0.data(), dy.data(), ds.data(), N, T, S, scale,
                                              !fresh);
           });
  }
  return y;
}

}  // namespace nl
