// The differentiable ops of normlab. Each op family lives in one file under core/ops/ with its
// forward, its backward right below, and its shape checks on top; every shape error names the
// op and both shapes. Index tensors (class targets, token ids, argmax) are float tensors that
// hold whole numbers (exact up to 2^24). Masks are float tensors: nonzero = keep/valid.
#pragma once
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace nl {

// ---- elementwise binary, with NumPy broadcasting (core/ops/binary.cpp) -----------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
// Sums a broadcast gradient back to `shape` (the reverse of broadcasting; used by backwards).
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---- scalar arithmetic and unary (core/ops/unary.cpp) ----------------------------------------
Tensor add_scalar(const Tensor& a, float s);
Tensor mul_scalar(const Tensor& a, float s);
Tensor rsub_scalar(float s, const Tensor& a);  // s - a
Tensor rdiv_scalar(float s, const Tensor& a);  // s / a
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor pow(const Tensor& a, float exponent);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor gelu(const Tensor& a);  // exact (erf) form: x * Phi(x)

// ---- reductions (core/ops/reduce.cpp) --------------------------------------------------------
Tensor sum(const Tensor& a);  // all elements -> shape {}
Tensor sum(const Tensor& a, int64_t axis, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, int64_t axis, bool keepdim = false);
struct MaxResult {
  Tensor values;   // differentiable (gradient goes to the first maximal element)
  Tensor indices;  // whole numbers, no gradient
};
MaxResult max(const Tensor& a, int64_t axis, bool keepdim = false);

// ---- matmul through cblas_sgemm (core/ops/matmul.cpp) ----------------------------------------
// a: (M,K) or (B,M,K); b: (K,N) or (B,K,N); transposes apply to the last two axes.
// A 3-D a with a 2-D b is one GEMM over the flattened (B*M, K) rows.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// ---- linear layer op, y = x Wᵀ + b in one sgemm (core/ops/linear.cpp) ------------------------
// x: (..., in), weight: (out, in), bias: (out) or undefined -> (..., out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- softmax family over the last axis (core/ops/softmax.cpp) --------------------------------
Tensor softmax(const Tensor& a);
Tensor log_softmax(const Tensor& a);

// ---- losses (core/ops/loss.cpp) --------------------------------------------------------------
// logits (N,C) or (B,T,C); targets (N) or (B,T) holding class indices. Positions whose target
// equals ignore_index, or whose mask entry is 0 (mask shaped like targets, optional), are not
// counted; the result is the mean over counted positions (0 when none counts).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& mask = Tensor(),
                     int64_t ignore_index = -100);
// Mean squared error over counted positions (mask shaped like pred, optional).
Tensor mse_loss(const Tensor& pred, const Tensor& target, const Tensor& mask = Tensor());

// ---- indexing (core/ops/embedding.cpp) -------------------------------------------------------
// weight (V,C), ids of any shape S -> S + (C); backward scatter-adds into weight rows.
Tensor embedding(const Tensor& weight, const Tensor& ids);

// ---- dropout (core/ops/dropout.cpp) ----------------------------------------------------------
// Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p); identity when
// !training or p == 0. The mask comes from `rng`, so runs with the same seed agree.
Tensor dropout(const Tensor& a, float p, bool training, Rng& rng);

// ---- selection (core/ops/where.cpp) ----------------------------------------------------------
// cond broadcast against a and b: out = cond != 0 ? a : b.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
// out = mask != 0 ? value : a (mask broadcast against a).
Tensor masked_fill(const Tensor& a, const Tensor& mask, float value);

// ---- shape (core/ops/shape_ops.cpp) ----------------------------------------------------------
Tensor reshape(const Tensor& a, const Shape& shape);  // a view; one extent may be -1
Tensor transpose(const Tensor& a, int64_t axis0, int64_t axis1);  // materialises
Tensor permute(const Tensor& a, const std::vector<int64_t>& dims);  // materialises
Tensor slice(const Tensor& a, int64_t axis, int64_t start, int64_t end);  // view on axis 0
Tensor concat(const std::vector<Tensor>& tensors, int64_t axis);
Tensor stack(const std::vector<Tensor>& tensors, int64_t axis);

// ---- operators -------------------------------------------------------------------------------
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, float s) { return add_scalar(a, s); }
inline Tensor operator+(float s, const Tensor& a) { return add_scalar(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add_scalar(a, -s); }
inline Tensor operator-(float s, const Tensor& a) { return rsub_scalar(s, a); }
inline Tensor operator*(const Tensor& a, float s) { return mul_scalar(a, s); }
inline Tensor operator*(float s, const Tensor& a) { return mul_scalar(a, s); }
inline Tensor operator/(const Tensor& a, float s) { return mul_scalar(a, 1.0f / s); }
inline Tensor operator/(float s, const Tensor& a) { return rdiv_scalar(s, a); }

}  // namespace nl
