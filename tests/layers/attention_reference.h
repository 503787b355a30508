// The unfused attention the fused ops are checked against (tests/layers/test_attention_fused.cpp,
// test_attention_head_products.cpp): split_heads, matmul, masked_fill, softmax, merge_heads
// through autograd, and the check of attention_heads against it, values and gradients.
#pragma once
#include <cmath>
#include <limits>

#include "helpers.h"
#include "layers/attention.h"

namespace nl::test {

// softmax(masked_fill(scale * scores)) with the layer's mask pattern; scores (B*heads, T, T).
inline Tensor unfused_softmax(const Tensor& scores, const Tensor& kpm, int64_t heads, bool causal,
                              float scale) {
  const int64_t N = scores.size(0), T = scores.size(1), B = N / heads;
  Tensor s = mul_scalar(scores, scale);
  const Tensor fill = attention_fill_mask(kpm, B, T, causal);
  if (fill.defined())
    s = masked_fill(s.reshape({B, heads, T, T}), fill, -std::numeric_limits<float>::infinity())
            .reshape({N, T, T});
  return softmax(s);
}

// The attention core through per-head copies: scaled Q Kᵀ, masked scores, softmax, times V, merge.
inline Tensor unfused_attention(const Tensor& qkv, int64_t heads, const Tensor& kpm, bool causal) {
  const int64_t d = qkv.size(2) / 3;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d / heads));
  Tensor q = split_heads(qkv, 0, heads), k = split_heads(qkv, 1, heads);
  Tensor v = split_heads(qkv, 2, heads);
  Tensor p = unfused_softmax(matmul(q, k, false, true), kpm, heads, causal, scale);
  return merge_heads(matmul(p, v), heads);
}

// attention_heads with 2 heads against unfused_attention on the same qkv: values, and the
// gradients of sum(y * w). Returns the fused output.
inline Tensor require_matches_composition(const Tensor& qkv, const Tensor& kpm, bool causal,
                                          const Tensor& w) {
  Tensor a = qkv.detach().clone(), b = qkv.detach().clone();
  a.requires_grad_(true);
  b.requires_grad_(true);
  Tensor fused = attention_heads(a, 2, kpm, causal);
  Tensor ref = unfused_attention(b, 2, kpm, causal);
  REQUIRE(max_abs_diff(fused, ref) < 1e-5);
  sum(mul(fused, w)).backward();
  sum(mul(ref, w)).backward();
  REQUIRE(max_abs_diff(a.grad(), b.grad()) < 1e-5);
  return fused.detach();
}

}  // namespace nl::test
