// Multi-head self-attention; see attention.h. Without attention dropout (or in eval) the heads
// run through attention_heads (layers/attention_core.cpp: strided GEMMs straight on the (B,T,3d)
// projection); with dropout, through split_heads / batched matmul / merge_heads, so the
// weights exist as a tensor for the dropout op. Kᵀ is taken by the GEMM's transpose flag.
#include "layers/attention.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "layers/dropout.h"
#include "layers/linear.h"

namespace nl {

// ---- split_heads / merge_heads -------------------------------------------------------------
// Both are the same index map: element (b, t, h, j) of the (B,T,heads*dh) side lives at
// ((b*heads + h)*T + t)*dh + j of the (B*heads,T,dh) side. `stride`/`offset` select one of the
// three parts of a (B,T,3d) tensor.
namespace {
template <bool kToHeads, bool kAccumulate>
void shuffle_heads(const float* src, float* dst, int64_t B, int64_t T, int64_t heads, int64_t dh,
                   int64_t row_stride, int64_t offset, float scale) {
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const int64_t row = (b * T + t) * row_stride + offset;  // in the (B,T,*) tensor
      for (int64_t h = 0; h < heads; ++h) {
        const int64_t hrow = ((b * heads + h) * T + t) * dh;  // in the (B*heads,T,dh) tensor
        const float* s = kToHeads ? src + row + h * dh : src + hrow;
        float* o = kToHeads ? dst + hrow : dst + row + h * dh;
        if (kAccumulate)
          for (int64_t j = 0; j < dh; ++j) o[j] += scale * s[j];
        else
          for (int64_t j = 0; j < dh; ++j) o[j] = scale * s[j];
      }
    }
}
}  // namespace

Tensor split_heads(const Tensor& qkv, int64_t part, int64_t heads, float scale) {
  if (!qkv.defined() || qkv.dim() != 3 || heads < 1 || qkv.size(2) % (3 * heads) != 0 || part < 0 ||
      part > 2)
    throw ShapeError("split_heads: qkv " + (qkv.defined() ? shape_str(qkv.shape()) : "undefined") +
                     " must be (B,T,3d) with d divisible by heads = " + std::to_string(heads) +
                     ", part in {0,1,2}");
  const int64_t B = qkv.size(0), T = qkv.size(1), d = qkv.size(2) / 3, dh = d / heads;
  Tensor out = Tensor::empty({B * heads, T, dh});
  shuffle_heads<true, false>(qkv.data(), out.data(), B, T, heads, dh, 3 * d, part * d, scale);
  if (needs_grad({&qkv})) {
    record(out, "split_heads", {qkv}, [=](const Tensor& g_out, GradSink& g) {
      // Each part writes its own third of dqkv; zero-filled once by grad().
      shuffle_heads<false, true>(g_out.data(), g.grad(0).data(), B, T, heads, dh, 3 * d, part * d,
                                 scale);
    });
  }
  return out;
}

Tensor merge_heads(const Tensor& o, int64_t heads) {
  if (!o.defined() || o.dim() != 3 || heads < 1 || o.size(0) % heads != 0)
    throw ShapeError("merge_heads: input " + (o.defined() ? shape_str(o.shape()) : "undefined") +
                     " must be (B*heads,T,dh) with heads = " + std::to_string(heads));
  const int64_t B = o.size(0) / heads, T = o.size(1), dh = o.size(2), d = heads * dh;
  Tensor out = Tensor::empty({B, T, d});
  shuffle_heads<false, false>(o.data(), out.data(), B, T, heads, dh, d, 0, 1.0f);
  if (needs_grad({&o})) {
    record(out, "merge_heads", {o}, [=](const Tensor& g_out, GradSink& g) {
      bool fresh = false;
      Tensor& dst = g.target(0, &fresh);
      if (fresh)
        shuffle_heads<true, false>(g_out.data(), dst.data(), B, T, heads, dh, d, 0, 1.0f);
      else
        shuffle_heads<true, true>(g_out.data(), dst.data(), B, T, heads, dh, d, 0, 1.0f);
    });
  }
  return out;
}

Tensor attention_fill_mask(const Tensor& kpm, int64_t B, int64_t T, bool causal) {
  if (kpm.defined() && kpm.shape() != Shape{B, T})
    throw ShapeError("attention: key_padding_mask " + shape_str(kpm.shape()) +
                     " must be (B,T) = " + shape_str({B, T}));
  bool any_pad = false;
  if (kpm.defined())
    for (int64_t i = 0; i < B * T && !any_pad; ++i) any_pad = kpm.data()[i] == 0.0f;
  if (!any_pad && !causal) return Tensor();
  if (!any_pad) {  // (T,T): 1 above the diagonal
    Tensor m = Tensor::zeros({T, T});
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = i + 1; j < T; ++j) m.data()[i * T + j] = 1.0f;
    return m;
  }
  Tensor m = Tensor::empty({B, 1, T, T});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i) {
      float* row = m.data() + (b * T + i) * T;
      for (int64_t j = 0; j < T; ++j)
        row[j] = (kpm.data()[b * T + j] == 0.0f || (causal && j > i)) ? 1.0f : 0.0f;
    }
  return m;
}

// ---- the layer -------------------------------------------------------------------------------
MultiheadAttention::MultiheadAttention(const AttentionOptions& o, Rng& rng) : options_(o) {
  if (o.d_model < 1 || o.heads < 1 || o.d_model % o.heads != 0)
    throw ValueError("MultiheadAttention: d_model (" + std::to_string(o.d_model) +
                     ") must be a positive multiple of heads (" + std::to_string(o.heads) + ")");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    throw ValueError("MultiheadAttention: dropout must be in [0, 1), got " +
                     std::to_string(o.dropout));
  in_proj = register_module(
      "in_proj", std::make_shared<Linear>(LinearOptions{o.d_model, 3 * o.d_model, o.bias}, rng));
  out_proj = register_module(
      "out_proj", std::make_shared<Linear>(LinearOptions{o.d_model, o.d_model, o.bias}, rng));
  if (o.dropout > 0.0)
    attn_dropout = register_module(
        "attn_dropout",
        std::make_shared<Dropout>(DropoutOptions{static_cast<float>(o.dropout)}, rng.fork_seed()));
}

std::string MultiheadAttention::extra_repr() const {
  return "d_model=" + std::to_string(options_.d_model) +
         ", heads=" + std::to_string(options_.heads) +
         (options_.dropout > 0 ? ", dropout=" + std::to_string(options_.dropout) : "") +
         (options_.causal ? ", causal" : "");
}

Tensor MultiheadAttention::forward(const Tensor& x, const Tensor& key_padding_mask, bool causal) {
  const int64_t d = options_.d_model, heads = options_.heads, dh = d / heads;
  if (!x.defined() || x.dim() != 3 || x.size(2) != d)
    throw ShapeError("MultiheadAttention: input " +
                     (x.defined() ? shape_str(x.shape()) : "undefined") + " must be (B,T," +
                     std::to_string(d) + ")");

  Tensor qkv = in_proj->forward(x);  // (B,T,3d)
  if (!attn_dropout || !attn_dropout->is_training())  // every head by strided GEMMs, no copies
    return out_proj->forward(attention_heads(qkv, heads, key_padding_mask, causal));
  // Dropout on the weights: the per-head path, with the weights as a tensor of their own.
  Tensor q = split_heads(qkv, 0, heads);
  Tensor k = split_heads(qkv, 1, heads);
  Tensor v = split_heads(qkv, 2, heads);
  Tensor scores = matmul(q, k, false, true);  // (B*heads, T, T)
  // Scaling by 1/√dh, the masks and the softmax in one pass (masked keys get weight 0).
  Tensor p = scaled_masked_softmax(scores, key_padding_mask, heads, causal,
                                   1.0f / std::sqrt(static_cast<float>(dh)));
  p = attn_dropout->forward(p);
  Tensor o = matmul(p, v);  // (B*heads, T, dh)
  return out_proj->forward(merge_heads(o, heads));
}

// ---- registry factory ------------------------------------------------------------------------
ModulePtr make_attention(ConfigReader& cfg, const LayerArgs& args) {
  AttentionOptions o;
  o.d_model = cfg.get_int("d_model", args.features,
                          "model width d (default: the width of the layer below)", 1);
  o.heads = cfg.get_int("heads", 4, "attention heads (d_model must be divisible by it)", 1, 4096);
  o.dropout = cfg.get_number("dropout", 0.0, "dropout on the attention weights", 0.0, 0.99);
  o.bias = cfg.get_bool("bias", true, "biases in the Q/K/V and output projections");
  o.causal = cfg.get_bool("causal", false, "mask future positions (language models)");
  if (o.d_model < 1) cfg.fail("d_model", "unknown model width: set d_model");
  if (o.d_model % o.heads != 0)
    cfg.fail("heads",
             std::to_string(o.heads) + " does not divide d_model = " + std::to_string(o.d_model));
  if (!args.rng) throw ValueError("attention: the layer needs an Rng to initialise its weights");
  return std::make_shared<MultiheadAttention>(o, *args.rng);
}

}  // namespace nl
