// One layer of lm_ln's attention heads (2048 / T sequences × 4 heads; T = 64, dh = 32, causal),
// each of the six per-head products through kernels::head_product (#61: in registers, the
// causal triangle in 16-row blocks) against OpenBLAS's whole product on the same operands,
// alternated layer by layer over 60 rounds; prints the median time of a layer and the ratio. S and dP
// include the transposition of K or V that both paths make first (as layers/attention_core.cpp).
// All buffers 64-byte aligned, as the op's are.
//   g++ -O3 -march=native -std=c++20 -I. scripts/head-products.cpp build/libnormlab.a -lopenblas -lpthread -o /tmp/head-products
//   OPENBLAS_NUM_THREADS=1 /tmp/head-products [T=64] [dh=32]    # products 0-5: S, P V, dS K, dSᵀ Q, Pᵀ dO, dP
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/transpose.h"
#include "layers/kernels/head_products.h"

using namespace nl;
using kernels::HeadRange;

struct Free {
  void operator()(float* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<float[], Free>;
struct Span {  // what the loops below need of a buffer
  float* p;
  int64_t n;
  float* data() const { return p; }
  size_t size() const { return static_cast<size_t>(n); }
  float& operator[](size_t i) const { return p[i]; }
};

int main(int argc, char** argv) {
  const int64_t T = argc > 1 ? std::atol(argv[1]) : 64, dh = argc > 2 ? std::atol(argv[2]) : 32;
  if (!kernels::head_product_fits(T, T, dh)) {
    std::fprintf(stderr, "T and dh must be multiples of 16\n");
    return 2;
  }
  const int64_t B = 2048 / T, H = 4, d = H * dh, ld = 3 * d;
  // 64-byte aligned, as tensors and the op's per-thread scratch are (a 16-byte aligned scratch
  // made S and dP 1.4x slower: vector loads and stores across two cache lines).
  auto buffer = [](int64_t n) { return AlignedBuffer(static_cast<float*>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64))); };
  AlignedBuffer qkv_b = buffer(B * T * ld), out_b = buffer(B * T * d), P_b = buffer(B * H * T * T),
                dO_b = buffer(B * T * d), dqkv_b = buffer(B * T * ld), bt_b = buffer(dh * T),
                scores_b = buffer(T * T);
  Span qkv{qkv_b.get(), B * T * ld}, out{out_b.get(), B * T * d}, P{P_b.get(), B * H * T * T},
      dO{dO_b.get(), B * T * d}, dqkv{dqkv_b.get(), B * T * ld}, bt{bt_b.get(), dh * T},
      scores{scores_b.get(), T * T};
  for (size_t i = 0; i < qkv.size(); ++i) qkv[i] = ((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (size_t i = 0; i < dO.size(); ++i) dO[i] = ((i * 104729) % 1000) * 1e-3f - 0.5f;
  for (int64_t n = 0; n < B * H; ++n)  // causal weights: zeros above the diagonal
    for (int64_t r = 0; r < T; ++r)
      for (int64_t c = 0; c < T; ++c) P[n * T * T + r * T + c] = c <= r ? 1.0f / (r + 1) : 0.0f;
  const char* names[] = {"S = Q Kt", "O = P V", "dQ = dS K", "dK = dSt Q", "dV = Pt dO", "dP = dO Vt"};
  auto gemm = [](bool ta, int64_t M, int64_t N, int64_t K, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a,
                lda, b, ldb, 0.0f, c, ldc);
  };
  for (int which = 0; which < 6; ++which) {
    auto layer = [&](bool registers) {
      for (int64_t n = 0; n < B * H; ++n) {
        const float* q = qkv.data() + (n / H) * T * ld + (n % H) * dh;
        const float* pn = P.data() + n * T * T;  // P, standing in for dS too
        const float* go = dO.data() + (n / H) * T * d + (n % H) * dh;
        float* o = out.data() + (n / H) * T * d + (n % H) * dh;
        float* dq = dqkv.data() + (n / H) * T * ld + (n % H) * dh;
        switch (which) {
          case 0:
          case 5: {
            const float* a = which == 0 ? q : go;
            const int64_t lda = which == 0 ? ld : d;
            transpose_into(q + (which == 0 ? d : 2 * d), ld, T, dh, bt.data(), T);
            if (registers)
              kernels::head_product(T, T, dh, {a, lda}, bt.data(), T, scores.data(), T,
                                    HeadRange::kColumnsToRow, false);
            else
              gemm(false, T, T, dh, a, lda, bt.data(), T, scores.data(), T);
            break;
          }
          case 1:
          case 2:
            if (registers)
              kernels::head_product(T, dh, T, {pn, T}, q + (which == 1 ? 2 * d : d), ld,
                                    which == 1 ? o : dq, which == 1 ? d : ld,
                                    HeadRange::kDepthToRow, false);
            else
              gemm(false, T, dh, T, pn, T, q + (which == 1 ? 2 * d : d), ld, which == 1 ? o : dq,
                   which == 1 ? d : ld);
            break;
          default: {
            const float* b = which == 3 ? q : go;
            const int64_t ldb = which == 3 ? ld : d;
            float* c = dq + (which == 3 ? d : 2 * d);
            if (registers)
              kernels::head_product(T, dh, T, {pn, T, true}, b, ldb, c, ld,
                                    HeadRange::kDepthFromRow, false);
            else
              gemm(true, T, dh, T, pn, T, b, ldb, c, ld);
          }
        }
      }
    };
    auto time_us = [&](bool registers) {
      const auto t0 = std::chrono::steady_clock::now();
      layer(registers);
      return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
    };
    for (int i = 0; i < 6; ++i) time_us(i % 2);
    std::vector<double> regs, blas;
    for (int i = 0; i < 60; ++i) {
      if (i % 2) {
        regs.push_back(time_us(true));
        blas.push_back(time_us(false));
      } else {
        blas.push_back(time_us(false));
        regs.push_back(time_us(true));
      }
    }
    std::sort(regs.begin(), regs.end());
    std::sort(blas.begin(), blas.end());
    std::printf("%d %-11s registers %6.0f us, OpenBLAS whole %6.0f us: %.2fx\n", which,
                names[which], regs[30], blas[30], blas[30] / regs[30]);
  }
}
