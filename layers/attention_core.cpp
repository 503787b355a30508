// The fused attention ops (see attention.h): scaled_masked_softmax, and attention_heads, which
// runs softmax(Q Kᵀ/√dh + masks) V for every head straight out of the (B,T,3d) projection with
// strided GEMMs (lda/ldb = 3d over the head's columns, ldc = d into the merged output), so no
// per-head copy of Q, K, V or of the output is made, and no masked_fill or scaling pass runs.
// Backward of attention_heads, per head n = (b, h), with P the saved weights:
//   dP = dO Vᵀ;  dS = scale * P * (dP - rowsum(dP * P));  dQ = dS K;  dK = dSᵀ Q;  dV = Pᵀ dO.
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/threading.h"
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

// Runs per_head(n) for n in [0, N). When each head's GEMMs are small enough that OpenBLAS runs
// them on one thread, the heads run side by side on the pool (each writes only its own
// slices, so the result does not depend on the thread count); larger heads run one after the
// other, each GEMM threaded by OpenBLAS itself.
void for_each_head(int64_t N, int64_t gemm_mnk, const std::function<void(int64_t)>& per_head) {
  if (gemm_mnk > kBlasSingleThreadMNK) {
    for (int64_t n = 0; n < N; ++n) per_head(n);
    return;
  }
  // At least ~2^20 multiply-adds per chunk, or waking a worker costs more than it saves.
  parallel_for(N, (int64_t{1} << 20) / std::max<int64_t>(1, gemm_mnk) + 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) per_head(n);
  });
}

// The mask of head n = (b, h) alone, for a softmax over that head's (1, T, S) scores.
kernels::SoftmaxMask head_mask(const kernels::SoftmaxMask& all, int64_t n, int64_t S) {
  kernels::SoftmaxMask one = all;
  if (all.key_valid) one.key_valid = all.key_valid + (n / all.heads) * S;
  one.heads = 1;
  return one;
}

// A buffer of n floats owned by the calling thread, reused from call to call: one head's dP
// in the backward, which then stays in L1 from its GEMM through the softmax to the two GEMMs
// that read it (a fresh slice of an (N, T, T) tensor per head would be fetched line by line
// on its first write).
float* head_scratch(int64_t n) {
  thread_local std::vector<float> buffer;
  if (buffer.size() < static_cast<size_t>(n)) buffer.resize(static_cast<size_t>(n));
  return buffer.data();
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

Tensor attention_heads(const Tensor& qkv, int64_t heads, const Tensor& key_valid, bool causal) {
  if (!qkv.defined() || qkv.dim() != 3 || heads < 1 || qkv.size(2) % (3 * heads) != 0)
    throw ShapeError("attention_heads: qkv " +
                     (qkv.defined() ? shape_str(qkv.shape()) : "undefined") +
                     " must be (B,T,3d) with d divisible by heads = " + std::to_string(heads));
  const int64_t B = qkv.size(0), T = qkv.size(1), d = qkv.size(2) / 3, dh = d / heads;
  const int64_t N = B * heads, ld = 3 * d, TT = T * T;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dh));
  kernels::SoftmaxMask mask;
  mask.key_valid = key_valid_data(key_valid, B, T, "attention");
  mask.heads = heads;
  mask.causal = causal;
  // Head n = (b, h): Q at qkv[b, :, h*dh], K at +d, V at +2d (row stride 3d); output at
  // out[b, :, h*dh] (row stride d).
  auto qoff = [=](int64_t n) { return (n / heads) * T * ld + (n % heads) * dh; };
  auto ooff = [=](int64_t n) { return (n / heads) * T * d + (n % heads) * dh; };

  Tensor p = Tensor::empty({N, T, T});
  const float* x = qkv.data();
  float* pp = p.data();
  const int64_t head_mnk = T * T * dh;  // every GEMM of a head, forward and backward
  Tensor out = Tensor::empty({B, T, d});
  float* po = out.data();
  // One head at a time from scores to output, so its T×T weights are still in L1/L2 when the
  // softmax and the second product read them (all heads' scores, then all softmaxes, then all
  // products made three 2 MB passes on the LM workload). Measured: this op's forward +
  // backward at (32, 64, 384), 4 heads, 1.02x (1 and 2 threads); the LM step, within noise.
  for_each_head(N, head_mnk, [&](int64_t n) {
    float* pn = pp + n * TT;
    sgemm(false, true, T, T, dh, 1.0f, x + qoff(n), ld, x + qoff(n) + d, ld, 0.0f, pn, T);
    kernels::masked_softmax_forward(pn, pn, 1, T, T, scale, head_mask(mask, n, T));
    sgemm(false, false, T, dh, T, 1.0f, pn, T, x + qoff(n) + 2 * d, ld, 0.0f, po + ooff(n), d);
  });

  if (needs_grad({&qkv})) {
    record(out, "attention_heads", {qkv},
           [qkv = qkv.detach(), p, N, T, d, dh, ld, TT, scale, qoff, ooff, head_mnk](const Tensor& dout,
                                                                                    GradSink& g) {
             const float* x = qkv.data();
             const float* pp = p.data();
             const float* dO = dout.data();
             bool fresh = false;
             Tensor& dqkv = g.target(0, &fresh);
             const float beta = fresh ? 0.0f : 1.0f;
             float* dx = dqkv.data();
             for_each_head(N, head_mnk, [&](int64_t n) {  // one head at a time, as forward
               float* dsn = head_scratch(TT);  // dP, then dS in place: only this head needs it
               sgemm(false, true, T, T, dh, 1.0f, dO + ooff(n), d, x + qoff(n) + 2 * d, ld, 0.0f,
                     dsn, T);  // dP = dO Vᵀ
               kernels::masked_softmax_backward(pp + n * TT, dsn, dsn, 1, T, T, scale, false);
               float* dq = dx + qoff(n);
               sgemm(false, false, T, dh, T, 1.0f, dsn, T, x + qoff(n) + d, ld, beta, dq, ld);
               sgemm(true, false, T, dh, T, 1.0f, dsn, T, x + qoff(n), ld, beta, dq + d, ld);
               sgemm(true, false, T, dh, T, 1.0f, pp + n * TT, T, dO + ooff(n), d, beta,
                     dq + 2 * d, ld);
             });
           });
  }
  return out;
}

}  // namespace nl
