// Would the causal mask's zero half of every attention product buy time?
// (docs/performance-history.md, twelfth round.) The lm_ln workload's per-head products (batch 32, 4
// heads, T = 64, dh = 32), forward and backward as layers/attention_core.cpp makes them, for one
// layer, four ways: whole T×T products, and the causal triangle in 2, 4 or 8 row blocks, each block
// multiplying only the keys it can see (k blocks: (k + 1) / 2k of the FLOPs;
// layers/attention_core.cpp uses blocks of 64 rows from T = 128 on). Alternated layer by layer in
// rotated order on one core; prints the median and minimum.
//
//   g++ -O2 -std=c++20 scripts/attention-triangle.cpp -lopenblas -o /tmp/attention-triangle
//   OPENBLAS_NUM_THREADS=1 /tmp/attention-triangle [rounds=200] [dh=32] [batch=32] [T=64]
// (dh 4 and batch 1 are lm_tiny's heads; T a multiple of 8.)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

int B = 32, H = 4, T = 64, dh = 32, d = H * dh, ld = 3 * d, N = B * H;
std::vector<float> qkv, P, O, dO, dqkv, dS;

void gemm(bool ta, bool tb, int M, int Nc, int K, const float* A, int lda, const float* Bm,
          int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M,
              Nc, K, 1.0f, A, lda, Bm, ldb, beta, C, ldc);
}

// One layer's six products per head with the query rows in `blocks` blocks: block [r0, r1)
// sees keys [0, r1), and in dK / dV the key block [c0, c1) gets queries [c0, T).
double layer_ms(int blocks) {
  const auto t0 = std::chrono::steady_clock::now();
  const int bs = T / blocks;
  for (int n = 0; n < N; ++n) {
    const float* q = qkv.data() + (n / H) * T * ld + (n % H) * dh;  // K at +d, V at +2d
    float* p = P.data() + n * T * T;
    float* o = O.data() + (n / H) * T * d + (n % H) * dh;
    const float* go = dO.data() + (n / H) * T * d + (n % H) * dh;
    float* dq = dqkv.data() + (n / H) * T * ld + (n % H) * dh;
    for (int k = 0; k < blocks; ++k) {  // forward: S = Q Kᵀ, O = P V
      const int r0 = k * bs, r1 = r0 + bs;
      gemm(false, true, r1 - r0, r1, dh, q + r0 * ld, ld, q + d, ld, 0.f, p + r0 * T, T);
      gemm(false, false, r1 - r0, dh, r1, p + r0 * T, T, q + 2 * d, ld, 0.f, o + r0 * d, d);
    }
    for (int k = 0; k < blocks; ++k) {  // dP = dO Vᵀ, dQ = dS K
      const int r0 = k * bs, r1 = r0 + bs;
      gemm(false, true, r1 - r0, r1, dh, go + r0 * d, d, q + 2 * d, ld, 0.f, dS.data() + r0 * T, T);
      gemm(false, false, r1 - r0, dh, r1, dS.data() + r0 * T, T, q + d, ld, 1.f, dq + r0 * ld, ld);
    }
    for (int k = 0; k < blocks; ++k) {  // dK = dSᵀ Q, dV = Pᵀ dO
      const int c0 = k * bs, c1 = c0 + bs;
      gemm(true, false, c1 - c0, dh, T - c0, dS.data() + c0 * T + c0, T, q + c0 * ld, ld, 1.f,
           dq + d + c0 * ld, ld);
      gemm(true, false, c1 - c0, dh, T - c0, p + c0 * T + c0, T, go + c0 * d, d, 1.f,
           dq + 2 * d + c0 * ld, ld);
    }
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  if (argc > 2) dh = std::atoi(argv[2]);
  if (argc > 3) B = std::atoi(argv[3]);
  if (argc > 4) T = std::atoi(argv[4]) / 8 * 8;
  d = H * dh, ld = 3 * d, N = B * H;
  qkv.resize(B * T * ld), P.resize(N * T * T), O.resize(B * T * d), dO.resize(B * T * d);
  dqkv.resize(B * T * ld), dS.resize(T * T);
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (auto* v : {&qkv, &P, &dO})
    for (float& x : *v) x = 0.1f * normal(gen);
  const std::vector<int> variants = {1, 2, 4, 8};  // 1 = whole products; T / 8 >= 8 rows
  const int V = static_cast<int>(variants.size());
  std::vector<std::vector<double>> ms(V);
  for (int w = 0; w < 5; ++w)
    for (int v : variants) layer_ms(v);
  for (int r = 0; r < rounds; ++r)
    for (int i = 0; i < V; ++i) {
      const int v = (i + r) % V;
      ms[v].push_back(layer_ms(variants[v]));
    }
  std::printf("one layer's per-head attention products (%d heads of %dx%d, dh %d), %d rounds\n",
              N, T, T, dh, rounds);
  for (int v = 0; v < V; ++v) {
    std::sort(ms[v].begin(), ms[v].end());
    const double med = ms[v][ms[v].size() / 2];
    std::printf("  %-22s median %.3f ms (%.2fx)  min %.3f ms\n",
                v == 0 ? "whole products" : ("triangle, " + std::to_string(variants[v]) + " blocks").c_str(),
                med, med / ms[0][ms[0].size() / 2], ms[v][0]);
  }
}
