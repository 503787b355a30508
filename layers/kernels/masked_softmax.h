// The attention softmax in one pass each way: score scaling, the causal and key-padding masks
// and the row softmax fused (instead of a scale, a masked_fill and a softmax op, each a full
// pass over the (B*heads, T, S) scores and its own buffer). Rows are the (n, t) query rows of
// scores shaped (N, T, S) with N = B * heads; row (n, t) belongs to batch b = n / heads.
//   forward:  y = softmax(scale * s) over the keys that are not masked, 0 on masked keys;
//             a row with every key masked is all zeros (no NaN; see core/ops/softmax.cpp)
//   backward: ds = scale * y * (dy - sum(dy * y))  (0 on masked keys, since y = 0 there)
// The row sums use 16 fixed partial sums merged in a fixed order: vectorised and the same
// bits at every thread count.
#pragma once
#include <cstdint>

namespace nl::kernels {

struct SoftmaxMask {
  const float* key_valid = nullptr;  // (B, S): 0 = padded key (masked), or null
  int64_t heads = 1;                 // N = B * heads
  bool causal = false;               // key j is masked for query t when j > t
};

// s, y: (N, T, S) contiguous; s == y (in place) is allowed.
void masked_softmax_forward(const float* s, float* y, int64_t N, int64_t T, int64_t S,
                            float scale, const SoftmaxMask& mask);
// The same, one row at a time: masked_softmax_forward's path when S is not a multiple of 16,
// and the reference its 16-row path must match bit for bit (tests/layers/test_attention_fused.cpp).
void masked_softmax_forward_by_rows(const float* s, float* y, int64_t N, int64_t T, int64_t S,
                                    float scale, const SoftmaxMask& mask);
// y, dy, ds: (N, T, S); ds == dy (in place) is allowed. accumulate: ds += instead of ds =.
// causal: row t reads y and dy only on keys [0, t + 1) and writes 0 (or adds nothing) on the
// rest, for a dy whose entries above the diagonal were never computed (the causal triangle of
// layers/attention_core.cpp); y must be 0 there, as the causal forward leaves it.
void masked_softmax_backward(const float* y, const float* dy, float* ds, int64_t N, int64_t T,
                             int64_t S, float scale, bool accumulate, bool causal = false);

}  // namespace nl::kernels
