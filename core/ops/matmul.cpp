// matmul: 2-D and batched 3-D products with optional transposes, all through cblas_sgemm
// (a loop of calls for the batched case). Backward (for C = op(A) op(B)):
//   dA = dC op(B)^T (transposed back when A was used transposed), dB = op(A)^T dC.
#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {
namespace {

struct Dims {
  int64_t batch;       // number of GEMMs (1 for 2-D, or when b is 2-D: rows are flattened)
  int64_t M, K, N;
  bool batched_b;      // b has its own matrix per batch entry
  Shape out_shape;
};

[[noreturn]] void mismatch(const Tensor& a, const Tensor& b, bool ta, bool tb, const char* why) {
  throw ShapeError(std::string("matmul: cannot multiply ") + shape_str(a.shape()) +
                   (ta ? "^T" : "") + " by " + shape_str(b.shape()) + (tb ? "^T" : "") + " (" +
                   why + ")");
}

Dims matmul_dims(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  if (!a.defined() || !b.defined()) throw ShapeError("matmul: called with an undefined tensor");
  if (a.dim() < 2 || a.dim() > 3 || b.dim() < 2 || b.dim() > 3)
    mismatch(a, b, ta, tb, "operands must be 2-D or 3-D");
  const int64_t ar = a.size(-2), ac = a.size(-1), br = b.size(-2), bc = b.size(-1);
  Dims d{};
  d.M = ta ? ac : ar;
  d.K = ta ? ar : ac;
  const int64_t kb = tb ? bc : br;
  d.N = tb ? br : bc;
  if (d.K != kb) mismatch(a, b, ta, tb, "inner dimensions differ");
  if (b.dim() == 3) {
    if (a.dim() != 3) mismatch(a, b, ta, tb, "a 3-D right operand needs a 3-D left operand");
    if (a.size(0) != b.size(0)) mismatch(a, b, ta, tb, "batch sizes differ");
    d.batch = a.size(0);
    d.batched_b = true;
    d.out_shape = {d.batch, d.M, d.N};
  } else if (a.dim() == 3) {
    if (ta) mismatch(a, b, ta, tb, "a transposed 3-D left operand needs a 3-D right operand");
    // (B,M,K) x (K,N): one GEMM over the B*M rows.
    d.batch = 1;
    d.batched_b = false;
    d.out_shape = {a.size(0), d.M, d.N};
    d.M *= a.size(0);
  } else {
    d.batch = 1;
    d.batched_b = false;
    d.out_shape = {d.M, d.N};
  }
  return d;
}

// C[i] (+)= op(A[i]) op(B[i]) for every batch entry.
void batched_gemm(const Dims& d, bool ta, bool tb, const float* A, const float* B, float beta,
                  float* C) {
  const int64_t sa = d.M * d.K, sb = d.batched_b ? d.K * d.N : 0, sc = d.M * d.N;
  for (int64_t i = 0; i < d.batch; ++i)
    sgemm(ta, tb, d.M, d.N, d.K, 1.0f, A + i * sa, B + i * sb, beta, C + i * sc);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Dims d = matmul_dims(a, b, ta, tb);
  Tensor out = Tensor::empty(d.out_shape);
  batched_gemm(d, ta, tb, a.data(), b.data(), 0.0f, out.data());
  if (needs_grad({&a, &b})) {
    record(out, "matmul", {a, b},
           [a = a.detach(), b = b.detach(), ta, tb, d](const Tensor& dc, GradSink& g) {
             const int64_t sa = d.M * d.K, sb = d.K * d.N, sc = d.M * d.N;
             bool fresh = false;
             if (g.needs(0)) {
               // op(A) = dC op(B)^T; stored A = op(A) or op(A)^T.
               Tensor& da = g.target(0, &fresh);
               const float beta = fresh ? 0.0f : 1.0f;
               for (int64_t i = 0; i < d.batch; ++i) {
                 const float* B = b.data() + (d.batched_b ? i * sb : 0);
                 float* dA = da.data() + i * sa;
                 const float* dC = dc.data() + i * sc;
                 if (!ta) sgemm(false, !tb, d.M, d.K, d.N, 1.0f, dC, B, beta, dA);   // (M,K)
                 else sgemm(tb, true, d.K, d.M, d.N, 1.0f, B, dC, beta, dA);         // (K,M)
               }
             }
             if (g.needs(1)) {
               Tensor& db = g.target(1, &fresh);
               if (d.batched_b) {
                 const float beta = fresh ? 0.0f : 1.0f;
                 for (int64_t i = 0; i < d.batch; ++i) {
                   const float* A = a.data() + i * sa;
                   const float* dC = dc.data() + i * sc;
                   float* dB = db.data() + i * sb;
                   if (!tb) sgemm(!ta, false, d.K, d.N, d.M, 1.0f, A, dC, beta, dB);  // (K,N)
                   else sgemm(true, ta, d.N, d.K, d.M, 1.0f, dC, A, beta, dB);        // (N,K)
                 }
               } else {  // shared b: every row of the flattened batch contributes
                 const float beta = fresh ? 0.0f : 1.0f;
                 if (!tb) sgemm(!ta, false, d.K, d.N, d.M, 1.0f, a.data(), dc.data(), beta, db.data());
                 else sgemm(true, ta, d.N, d.K, d.M, 1.0f, dc.data(), a.data(), beta, db.data());
               }
             }
           });
  }
  return out;
}

}  // namespace nl
