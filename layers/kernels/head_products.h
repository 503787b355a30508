// The six products of one attention head (S = Q Kᵀ, O = P V and the backward's dP, dQ, dK, dV)
// in registers, for heads whose sequence length T and head width dh are multiples of 16, and
// with the causal mask skipping what no query can see at a granularity of 16 rows (8 in the
// depth ranges) instead of the 64-row blocks the OpenBLAS path needs to stay efficient
// (layers/attention_core.cpp).
//
//   C[i, cols(i)] (+)= sum over k in range(i) of A(i, k) * B[k, cols(i)]
//
// with A(i, k) = a[i * lda + k], or a[k * lda + i] when A is given transposed, B and C row-major,
// and, for the 16-row block [i0, i0 + 16) and the 8-row block [i8, i8 + 8) that row i belongs to:
//   HeadRange::kAll            cols [0, cols),      k in [0, depth)
//   HeadRange::kColumnsToRow   cols [0, i0 + 16),   k in [0, depth)   S = Q Kᵀ, dP = dO Vᵀ
//   HeadRange::kDepthToRow     cols [0, cols),      k in [0, i8 + 8)  O = P V, dQ = dS K
//   HeadRange::kDepthFromRow   cols [0, cols),      k in [i8, depth)  dK = dSᵀ Q, dV = Pᵀ dO
// (columns go by 16, the vector width; depth by 8, the height of the tiles these products use
// at dh = 32, so a causal head's P V, dS K, dSᵀ Q and Pᵀ dO multiply 56 % of the square, not
// 62.5 %)
// Columns kColumnsToRow leaves out are set to 0 (left as they are when accumulating), so that
// a reader of whole rows finds zeros there. Each element is one sum in k order (one fused
// multiply-add per k where the build has them): the same bits at every thread count.
#pragma once
#include <cstdint>

namespace nl::kernels {

enum class HeadRange { kAll, kColumnsToRow, kDepthToRow, kDepthFromRow };

struct HeadOperand {
  const float* data;
  int64_t ld;               // row stride of the matrix stored at data
  bool transposed = false;  // data holds Aᵀ: A(i, k) = data[k * ld + i]
};

// Whether head_product takes rows × cols with this depth: all three multiples of 16.
bool head_product_fits(int64_t rows, int64_t cols, int64_t depth);

// accumulate: C += instead of C =. Throws if !head_product_fits(rows, cols, depth).
void head_product(int64_t rows, int64_t cols, int64_t depth, const HeadOperand& a,
                  const float* b, int64_t ldb, float* c, int64_t ldc, HeadRange range,
                  bool accumulate);

}  // namespace nl::kernels
