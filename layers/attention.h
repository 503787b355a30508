// Multi-head self-attention (Vaswani et al. 2017): Q, K, V from one (d -> 3d) projection,
// softmax(Q Kᵀ / √dh + mask) V per head, heads merged and projected back to d.
// Masks: causal (position t attends to keys <= t) and key padding ((B,T), nonzero = real
// token; padded keys get zero weight). A query row whose keys are all masked gets all-zero
// weights (the softmax of an all -inf row is defined as zeros), so its output is the output
// projection's bias — finite, never NaN.
#pragma once
#include "core/rng.h"
#include "core/tensor.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

class Linear;
class Dropout;

struct AttentionOptions {
  int64_t d_model = 0;
  int64_t heads = 1;     // d_model must be divisible by heads
  double dropout = 0.0;  // on the attention weights, training only
  bool bias = true;      // in the input and output projections
  bool causal = false;   // default for forward(); forward(x, mask, causal) overrides
};

class MultiheadAttention : public Module {
 public:
  // Projections are initialised by Linear's PyTorch init from `rng`.
  MultiheadAttention(const AttentionOptions& options, Rng& rng);

  // x: (B,T,d); key_padding_mask: (B,T) nonzero = real token, or undefined -> (B,T,d).
  Tensor forward(const Tensor& x, const Tensor& key_padding_mask, bool causal);
  Tensor forward(const Tensor& x) override { return forward(x, Tensor(), options_.causal); }
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override {
    return forward(x, mask, options_.causal);
  }

  std::string type_name() const override { return "MultiheadAttention"; }
  std::string extra_repr() const override;
  const AttentionOptions& options() const { return options_; }

  std::shared_ptr<Linear> in_proj;        // (d -> 3d): rows [0,d) Q, [d,2d) K, [2d,3d) V
  std::shared_ptr<Linear> out_proj;       // (d -> d)
  std::shared_ptr<Dropout> attn_dropout;  // null when dropout == 0

 private:
  AttentionOptions options_;
};

// ---- head reshuffles (differentiable; exposed for tests) -----------------------------------
// qkv: (B,T,3d) -> part p (0 = Q, 1 = K, 2 = V) as (B*heads, T, dh), multiplied by `scale`.
Tensor split_heads(const Tensor& qkv, int64_t part, int64_t heads, float scale = 1.0f);
// o: (B*heads, T, dh) -> (B,T,heads*dh).
Tensor merge_heads(const Tensor& o, int64_t heads);
// The additive-mask pattern as a fill mask for (B,heads,T,T) scores: 1 where the key must be
// hidden (padding or future), shaped (B,1,T,T) with a key-padding mask or (T,T) without.
// Undefined when nothing is masked.
Tensor attention_fill_mask(const Tensor& key_padding_mask, int64_t B, int64_t T, bool causal);

// ---- fused attention ops (layers/attention_core.cpp) ---------------------------------------
// softmax(scale * scores) over the last axis with the attention masks in the same pass:
// scores (B*heads, T, S); key_valid (B, S), nonzero = real key, or undefined; causal hides
// key j from query t when j > t. Masked keys get weight 0, a row with every key masked is all
// zeros (its gradient too).
Tensor scaled_masked_softmax(const Tensor& scores, const Tensor& key_valid, int64_t heads,
                             bool causal, float scale);
// The attention of every head straight from the (B,T,3d) projection, heads merged:
// out[b,t,h*dh:(h+1)*dh] = softmax(Q Kᵀ/√dh + masks) V of head h, through strided GEMMs (no
// split_heads/merge_heads copies). key_valid, causal: as above. -> (B,T,d).
Tensor attention_heads(const Tensor& qkv, int64_t heads, const Tensor& key_valid, bool causal);
// With the causal mask and T of at least causal_triangle_min_len() (default 128), attention_heads
// multiplies only the triangle each block of 64 query rows can see (layers/attention_core.cpp).
// Setting the length (1: from two blocks on; INT64_MAX: never) is for A/B measurements and
// tests; call it between steps, not while attention runs on another thread.
int64_t causal_triangle_min_len();
void set_causal_triangle_min_len(int64_t T);
// Heads with T <= 128 and T, dh multiples of 16 multiply in registers (layers/kernels/
// head_products.h); off, they take the OpenBLAS path like other heads (for tests and A/B runs;
// call it between steps, as above).
void set_attention_head_kernels(bool on);

// Registry factory: {"type": "attention", "heads": 4, "dropout": 0.0, "bias": true,
// "causal": false}; d_model defaults to args.features.
ModulePtr make_attention(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
