// The fused attention ops (see attention.h): scaled_masked_softmax, and attention_heads, which
// runs softmax(Q Kᵀ/√dh + masks) V for every head straight out of the (B,T,3d) projection with
// strided GEMMs (lda/ldb = 3d over the head's columns, ldc = d into the merged output), so no
// per-head copy of Q, K, V or of the output is made, and no masked_fill or scaling pass runs.
// Heads up to T = 128 whose T and dh are multiples of 16 skip OpenBLAS: their products run in
// registers (layers/kernels/head_products.h; heads_in_registers below).
// Backward of attention_heads, per head n = (b, h), with P the saved weights:
//   dP = dO Vᵀ;  dS = scale * P * (dP - rowsum(dP * P));  dQ = dS K;  dK = dSᵀ Q;  dV = Pᵀ dO.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <memory>

#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/simd.h"
#include "core/storage.h"
#include "core/threading.h"
#include "core/transpose.h"
#include "layers/attention.h"
#include "layers/kernels/head_products.h"
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

// Runs per_head(n) for n in [0, N), each head's GEMMs at most M×Nc×K. Heads run side by side on
// the pool, each product one whole single-threaded OpenBLAS call on its task's thread (so the
// result does not depend on the thread count), when the products are small enough for OpenBLAS
// to run them on the calling thread anyway, or when there are at least as many heads as threads
// and OpenBLAS's own threads would not take them (the default). Otherwise (a few large heads, or
// NORMLAB_GEMM_THREAD_MIN giving them to OpenBLAS) the heads run one after the other, each
// product split over the pool or threaded as sgemm decides. (Until the thirteenth round only the
// first case ran side by side: 128×128×32 heads, under sgemm's 1 M split line, ran one after the
// other on one core at 2 threads; docs/performance-history.md, thirteenth round.)
void for_each_head(int64_t N, int64_t M, int64_t Nc, int64_t K,
                   const std::function<void(int64_t)>& per_head) {
  const int64_t gemm_mnk = M * Nc * K;
  const bool side_by_side = gemm_mnk <= kBlasSingleThreadMNK ||
                            (N >= num_threads() && !gemm_on_openblas_threads(M, Nc, K));
  if (!side_by_side) {
    for (int64_t n = 0; n < N; ++n) per_head(n);
    return;
  }
  if (gemm_mnk > kBlasSingleThreadMNK) choose_blas_threads(M, Nc, K);  // OpenBLAS on 1 thread
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

// Causal attention multiplies only the triangle a query can see once T reaches
// causal_triangle_min_len() (default 128, two blocks): query rows [r0, r1) against keys
// [0, r1), and in dK / dV key rows [c0, c1) from queries [c0, T). With k blocks of 64 rows that
// is (k + 1) / 2k of the whole products' FLOPs (3/4 at T = 128, 5/8 at 256, 9/16 at 512) in k
// times as many, smaller GEMM calls. The op forward + backward, alternated with whole products
// in one process (scripts/attention-triangle-op.cpp, dh 16-64): 0.84-0.87x the time at T = 128,
// 0.73-0.78x at 256, 0.66-0.69x at 512, 1 thread; 64-row blocks beat 32 and 128 at 256 and 512
// (scripts/attention-triangle.cpp). At T = 64 (the lm workloads) 16-row blocks made the products
// 0.84-0.91x as long but the step under 1 % faster at 1 thread and 1-2 % slower at 2; below 128
// the products stay whole and make the calls they always made.
// Returns the block height: T itself means whole products.
constexpr int64_t kTriangleBlockRows = 64;
std::atomic<int64_t> g_triangle_min_len{2 * kTriangleBlockRows};
int64_t triangle_block_rows(int64_t T, bool causal) {
  const bool triangle = causal && T > kTriangleBlockRows &&
                        T >= g_triangle_min_len.load(std::memory_order_relaxed);
  return triangle ? kTriangleBlockRows : T;
}

// Buffers of n floats owned by the calling thread, reused from call to call. kScores: one
// head's dP in the backward, which then stays in L1 from its GEMM through the softmax to the
// two GEMMs that read it (a fresh slice of an (N, T, T) tensor per head would be fetched line
// by line on its first write). kTransposed: one head's Kᵀ or Vᵀ (times_transposed). kKeys: one
// head's K, when its backward writes dK over it (head_backward_in_registers).
// 64-byte aligned: the head products load and store them as 64-byte vectors, and at the 16 bytes
// a std::vector gave, three in four of those straddled two cache lines (S = Q Kᵀ out of an aligned
// Kᵀ 1.82 µs a head, out of one 16 bytes off 2.50; docs/performance-history.md, 27th round).
enum ScratchSlot { kScores = 0, kTransposed = 1, kKeys = 2 };
float* head_scratch(int64_t n, ScratchSlot slot) {
  // From the tensor allocator (core/storage.h), whose blocks are 64-byte aligned; kept by the
  // thread and replaced by a larger one when a longer head needs it.
  thread_local std::unique_ptr<Storage> buffers[3];
  std::unique_ptr<Storage>& buffer = buffers[slot];
  if (!buffer || buffer->size() < n) buffer = std::make_unique<Storage>(n);
  return buffer->data();
}

// C = A Bᵀ for one head, A: T×dh at lda, B: T×dh at ldb, C: T×T at ldc, by query blocks:
// rows [r0, r1) against keys [0, r1). Where OpenBLAS has small-matrix kernels (its AVX-512
// sets, blas_has_small_sgemm) it serves the NN form of a per-head product with them but not
// this NT form, which takes its packing path: 1.4x slower (64×64×32 out of the (B,T,3d)
// projection: 3.55 against 2.45 µs with hot caches, 6.1 against 3.1-3.6 µs inside the lm_ln
// step). So there Bᵀ is first transposed into the thread's scratch and the products run NN:
// lm_ln's step 1.0 % faster, lm_tiny's 3.9 % (twenty-fourth round). On the other kernel sets
// (Haswell's: no small-matrix path) both forms take the same time and stay NT, as before.
void times_transposed(int64_t T, int64_t dh, int64_t block, const float* A, int64_t lda,
                      const float* B, int64_t ldb, float* C, int64_t ldc) {
  const bool transpose_first = blas_has_small_sgemm();
  if (transpose_first) {
    float* bt = head_scratch(dh * T, kTransposed);
    transpose_into(B, ldb, T, dh, bt, T);
    B = bt;
    ldb = T;
  }
  for (int64_t r0 = 0; r0 < T; r0 += block) {
    const int64_t r1 = std::min(T, r0 + block);
    sgemm(false, !transpose_first, r1 - r0, r1, dh, 1.0f, A + r0 * lda, lda, B, ldb, 0.0f,
          C + r0 * ldc, ldc);
  }
}

// Heads whose T and dh are multiples of 16, up to T = kHeadKernelMaxLen, multiply in registers
// (layers/kernels/head_products.h) instead of through OpenBLAS: no call or packing per product,
// and with the causal mask only the triangle in 16-row blocks (10 of 16 blocks at T = 64, where
// OpenBLAS's smaller blocks lost what the triangle saved; 8-row blocks, 36 of 64, for the four
// products whose range is in depth). The op forward + backward, causal,
// 1 thread, against OpenBLAS (scripts/attention-triangle-op.cpp ... registers, 30-40 pairs):
// dh 32 at T = 64 0.88-0.91x the time, T = 128 0.92-0.94x (against its 64-row triangle),
// T = 256 1.01x, T = 512 1.06x; dh 16 / 64 at T = 64 0.95x / 0.91x. Longer heads keep OpenBLAS.
// The lm_ln step 1.4-2.0 % faster (docs/performance-history.md, twenty-sixth round).
constexpr int64_t kHeadKernelMaxLen = 128;
std::atomic<bool> g_head_kernels{true};
bool heads_in_registers(int64_t T, int64_t dh) {
  return T <= kHeadKernelMaxLen && kernels::head_product_fits(T, T, dh) &&
         g_head_kernels.load(std::memory_order_relaxed);
}

// The forward of one head in registers: S = Q Kᵀ (the triangle when causal), the softmax in
// place, O = P V. K is transposed into the thread's scratch so that both products read B by rows.
void head_forward_in_registers(int64_t T, int64_t dh, const float* q, int64_t ld, int64_t d,
                               float* pn, float* out, float scale,
                               const kernels::SoftmaxMask& mask) {
  using kernels::HeadRange;
  const bool causal = mask.causal;
  float* kt = head_scratch(dh * T, kTransposed);
  transpose_into(q + d, ld, T, dh, kt, T);
  kernels::head_product(T, T, dh, {q, ld}, kt, T, pn, T,
                        causal ? HeadRange::kColumnsToRow : HeadRange::kAll, false);
  kernels::masked_softmax_forward(pn, pn, 1, T, T, scale, mask);
  kernels::head_product(T, dh, T, {pn, T}, q + 2 * d, ld, out, d,
                        causal ? HeadRange::kDepthToRow : HeadRange::kAll, false);
}

// Its backward: dP = dO Vᵀ, dS in place, dK = dSᵀ Q, dQ = dS K, dV = Pᵀ dO (into dq, dq + d,
// dq + 2d at row stride ld), adding to them when accumulate. dq may be q itself (the gradient
// written over the saved projection: GradSink::adopt_saved): V is read only through its
// transposed copy, Q before dQ overwrites it, and K from a copy, since dK overwrites it first.
void head_backward_in_registers(int64_t T, int64_t dh, const float* q, int64_t ld, int64_t d,
                                const float* pn, const float* go, float* dq, float scale,
                                bool causal, bool accumulate) {
  using kernels::HeadRange;
  float* dsn = head_scratch(T * T, kScores);
  float* vt = head_scratch(dh * T, kTransposed);
  transpose_into(q + 2 * d, ld, T, dh, vt, T);
  kernels::head_product(T, T, dh, {go, d}, vt, T, dsn, T,
                        causal ? HeadRange::kColumnsToRow : HeadRange::kAll, false);
  // Whole rows, as after OpenBLAS's whole products: with dP's zeros past each row block and P's
  // zeros above the diagonal, the same sums and the same bits as that path, and the op forward +
  // backward 2 % faster than with causal rows (lengths 1 to T, T = 64: three runs, 1.021-1.023).
  kernels::masked_softmax_backward(pn, dsn, dsn, 1, T, T, scale, false);
  const HeadRange to_row = causal ? HeadRange::kDepthToRow : HeadRange::kAll;
  const HeadRange from_row = causal ? HeadRange::kDepthFromRow : HeadRange::kAll;
  const float* keys = q + d;
  int64_t ld_keys = ld;
  if (dq == q) {  // in place: keep K for dQ before dK overwrites it
    float* kc = head_scratch(T * dh, kKeys);
    for (int64_t t = 0; t < T; ++t)  // dh is a multiple of 16 here
      for (int64_t c = 0; c < dh; c += simd::kWidth)
        simd::store(kc + t * dh + c, simd::load(q + d + t * ld + c));
    keys = kc;
    ld_keys = dh;
  }
  kernels::head_product(T, dh, T, {dsn, T, true}, q, ld, dq + d, ld, from_row, accumulate);
  kernels::head_product(T, dh, T, {dsn, T}, keys, ld_keys, dq, ld, to_row, accumulate);
  kernels::head_product(T, dh, T, {pn, T, true}, go, d, dq + 2 * d, ld, from_row, accumulate);
}

}  // namespace

void set_attention_head_kernels(bool on) { g_head_kernels.store(on, std::memory_order_relaxed); }

int64_t causal_triangle_min_len() { return g_triangle_min_len.load(std::memory_order_relaxed); }

void set_causal_triangle_min_len(int64_t T) {
  if (T < 1)
    throw ValueError("set_causal_triangle_min_len: T must be >= 1, got " + std::to_string(T));
  g_triangle_min_len.store(T, std::memory_order_relaxed);
}

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
  Tensor out = Tensor::empty({B, T, d});
  float* po = out.data();
  // One head at a time from scores to output, so its T×T weights are still in L1/L2 when the
  // softmax and the second product read them (all heads' scores, then all softmaxes, then all
  // products made three 2 MB passes on the LM workload). Measured: this op's forward +
  // backward at (32, 64, 384), 4 heads, 1.02x (1 and 2 threads); the LM step, within noise.
  const int64_t block = triangle_block_rows(T, causal);
  const bool in_registers = heads_in_registers(T, dh);
  for_each_head(N, T, T, dh, [&](int64_t n) {  // every GEMM of a head is at most T×T×dh
    float* pn = pp + n * TT;
    const float* q = x + qoff(n);  // K at q + d, V at q + 2d
    if (in_registers) {
      head_forward_in_registers(T, dh, q, ld, d, pn, po + ooff(n), scale, head_mask(mask, n, T));
      return;
    }
    times_transposed(T, dh, block, q, ld, q + d, ld, pn, T);  // S = Q Kᵀ, keys rows can see
    // Reads each row's keys up to its own position only (causal), and writes P's zeros above
    // the diagonal: the products below may read them.
    kernels::masked_softmax_forward(pn, pn, 1, T, T, scale, head_mask(mask, n, T));
    for (int64_t r0 = 0; r0 < T; r0 += block) {  // O = P V
      const int64_t r1 = std::min(T, r0 + block);
      sgemm(false, false, r1 - r0, dh, r1, 1.0f, pn + r0 * T, T, q + 2 * d, ld, 0.0f,
            po + ooff(n) + r0 * d, d);
    }
  });

  if (needs_grad({&qkv})) {
    record(out, "attention_heads", {qkv},
           [qkv = qkv.detach(), p, N, T, d, dh, ld, TT, scale, qoff, ooff, block, in_registers,
            causal](const Tensor& dout, GradSink& g) {
             const float* x = qkv.data();
             const float* pp = p.data();
             const float* dO = dout.data();
             bool fresh = false;
             // In registers, dQ, dK, dV go over the saved Q, K, V when nothing else needs them:
             // those lines were just read, where a fresh 3d-wide buffer is fetched from memory
             // on its first write (lm_ln and lm_bn steps 1 % faster).
             Tensor* adopted = in_registers ? g.adopt_saved(0, qkv) : nullptr;
             if (adopted) fresh = true;
             Tensor& dqkv = adopted ? *adopted : g.target(0, &fresh);
             const float beta = fresh ? 0.0f : 1.0f;
             float* dx = dqkv.data();
             for_each_head(N, T, T, dh, [&](int64_t n) {  // one head at a time, as forward
               const float* q = x + qoff(n);
               const float* pn = pp + n * TT;
               const float* go = dO + ooff(n);
               float* dq = dx + qoff(n);  // dK at dq + d, dV at dq + 2d
               if (in_registers) {
                 head_backward_in_registers(T, dh, q, ld, d, pn, go, dq, scale, causal, !fresh);
                 return;
               }
               float* dsn = head_scratch(TT, kScores);  // dP, then dS in place
               times_transposed(T, dh, block, go, d, q + 2 * d, ld, dsn, T);  // dP = dO Vᵀ
               kernels::masked_softmax_backward(pn, dsn, dsn, 1, T, T, scale, false, block < T);
               for (int64_t r0 = 0; r0 < T; r0 += block) {  // dQ = dS K
                 const int64_t r1 = std::min(T, r0 + block);
                 sgemm(false, false, r1 - r0, dh, r1, 1.0f, dsn + r0 * T, T, q + d, ld, beta,
                       dq + r0 * ld, ld);
               }
               // Key block [c0, c1) is seen by queries [c0, T) only.
               for (int64_t c0 = 0; c0 < T; c0 += block) {
                 const int64_t c1 = std::min(T, c0 + block);
                 sgemm(true, false, c1 - c0, dh, T - c0, 1.0f, dsn + c0 * T + c0, T, q + c0 * ld,
                       ld, beta, dq + d + c0 * ld, ld);  // dK = dSᵀ Q
                 sgemm(true, false, c1 - c0, dh, T - c0, 1.0f, pn + c0 * T + c0, T, go + c0 * d,
                       d, beta, dq + 2 * d + c0 * ld, ld);  // dV = Pᵀ dO
               }
             });
           });
  }
  return out;
}

}  // namespace nl
