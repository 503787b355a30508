// tn_gemm (C (+)= Aᵀ B in registers, core/tn_gemm.h): values against the double reference,
// OpenBLAS's bits where it is used, the rule that sends products to it, errors, and a Linear's
// weight gradient through it.
#include <cblas.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/tn_gemm.h"
#include "helpers.h"

using namespace nl;

namespace {
std::vector<float> randoms(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// Whether the kernel serves weight-gradient shapes here (an OpenBLAS with known K blocks).
bool kernel_used_here() { return tn_gemm_fits(true, false, 64, 64, 2048, 1.0f, 0.0f); }
}  // namespace

TEST_CASE("tn_gemm matches the double reference, K over several blocks, strided, beta 0 and 1",
          "[blas][tn_gemm]") {
  struct Case { int64_t M, N, K, lda, ldb, ldc; };
  for (const Case c : {Case{8, 16, 1, 8, 16, 16}, Case{16, 48, 700, 20, 50, 64},
                       Case{24, 80, 2048, 24, 80, 80}, Case{40, 32, 321, 40, 32, 33}}) {
    const auto A = randoms(c.K * c.lda, 1), B = randoms(c.K * c.ldb, 2);
    for (float beta : {0.0f, 1.0f}) {
      const auto C0 = randoms(c.M * c.ldc, 3);
      std::vector<float> C = C0;
      tn_gemm(c.M, c.N, c.K, A.data(), c.lda, B.data(), c.ldb, beta, C.data(), c.ldc);
      double worst = 0.0;
      for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = 0; j < c.N; ++j) {
          double want = beta == 1.0f ? C0[i * c.ldc + j] : 0.0;
          for (int64_t k = 0; k < c.K; ++k)
            want += static_cast<double>(A[k * c.lda + i]) * B[k * c.ldb + j];
          worst = std::max(worst, std::abs(C[i * c.ldc + j] - want) / (1.0 + std::sqrt(c.K)));
        }
      INFO("M " << c.M << " N " << c.N << " K " << c.K << " beta " << beta);
      REQUIRE(worst < 2e-5);
      // Columns past N in a wider C are left alone.
      for (int64_t i = 0; i < c.M; ++i)
        for (int64_t j = c.N; j < c.ldc; ++j) REQUIRE(C[i * c.ldc + j] == C0[i * c.ldc + j]);
    }
  }
}

TEST_CASE("tn_gemm gives OpenBLAS's bits wherever sgemm sends products to it",
          "[blas][tn_gemm]") {
  if (!kernel_used_here()) {
    WARN("this OpenBLAS (" << openblas_get_corename() << ") keeps every product: nothing to compare");
    return;
  }
  for (int64_t K : {32, 319, 320, 321, 640, 641, 700, 959, 1001, 2048, 3001})
    for (auto [M, N] : {std::pair<int64_t, int64_t>{128, 128}, {24, 80}, {512, 64}, {16, 784}}) {
      if (!tn_gemm_fits(true, false, M, N, K, 1.0f, 0.0f)) continue;
      const auto A = randoms(K * M, 10), B = randoms(K * N, 11);
      for (float beta : {0.0f, 1.0f}) {
        const auto C0 = randoms(M * N, 12);
        std::vector<float> ours = C0, theirs = C0;
        // As sgemm calls OpenBLAS: on one thread (its threaded driver splits K differently).
        choose_blas_threads(M, N, K);
        tn_gemm(M, N, K, A.data(), M, B.data(), N, beta, ours.data(), N);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, M, N, K, 1.0f, A.data(), M,
                    B.data(), N, beta, theirs.data(), N);
        INFO("M " << M << " N " << N << " K " << K << " beta " << beta);
        REQUIRE(std::memcmp(ours.data(), theirs.data(), sizeof(float) * M * N) == 0);
      }
    }
}

TEST_CASE("sgemm sends only weight-gradient shapes to tn_gemm, and the switch turns it off",
          "[blas][tn_gemm]") {
  if (!kernel_used_here()) return;  // the rule is off as a whole (checked by the WARN above)
  CHECK(tn_gemm_fits(true, false, 128, 512, 2048, 1.0f, 1.0f));
  CHECK_FALSE(tn_gemm_fits(false, false, 128, 512, 2048, 1.0f, 0.0f));  // not Aᵀ B
  CHECK_FALSE(tn_gemm_fits(true, true, 128, 512, 2048, 1.0f, 0.0f));
  CHECK_FALSE(tn_gemm_fits(true, false, 128, 512, 2048, 2.0f, 0.0f));   // alpha
  CHECK_FALSE(tn_gemm_fits(true, false, 128, 512, 2048, 1.0f, 0.5f));   // beta
  CHECK_FALSE(tn_gemm_fits(true, false, 12, 512, 2048, 1.0f, 0.0f));    // M not by 8
  CHECK_FALSE(tn_gemm_fits(true, false, 128, 40, 2048, 1.0f, 0.0f));    // N not by 16
  CHECK_FALSE(tn_gemm_fits(true, false, 256, 32, 2048, 1.0f, 0.0f));    // N below 64
  CHECK_FALSE(tn_gemm_fits(true, false, 256, 784, 4, 1.0f, 0.0f));      // K below 32
  CHECK_FALSE(tn_gemm_fits(true, false, 64, 64, 64, 1.0f, 0.0f));       // OpenBLAS's small kernels
  set_tn_gemm_kernel(false);
  CHECK_FALSE(tn_gemm_fits(true, false, 128, 512, 2048, 1.0f, 0.0f));
  set_tn_gemm_kernel(true);
  CHECK(tn_gemm_kernel_on());
}

TEST_CASE("tn_gemm refuses shapes it has no tiles for", "[blas][tn_gemm][errors]") {
  std::vector<float> buf(64 * 64);
  REQUIRE_THROWS_MENTIONING(tn_gemm(12, 64, 64, buf.data(), 12, buf.data(), 64, 0.0f, buf.data(), 64),
                            "tn_gemm", "multiple of 8");
  REQUIRE_THROWS_MENTIONING(tn_gemm(8, 64, 64, buf.data(), 8, buf.data(), 64, 0.5f, buf.data(), 64),
                            "tn_gemm", "beta 0 or 1");
}

TEST_CASE("a Linear's weight gradient through tn_gemm: the double reference, and the same bits "
          "with the kernel off", "[blas][tn_gemm][ops][linear]") {
  // 512 rows of 64 inputs, 64 outputs: dW = dyᵀ x is 64 × 64 × 512 (2 M multiply-adds, K >= 32).
  Tensor x = nl::test::rand_tensor({512, 64}, 21, false);
  auto dw_of = [&](bool kernel_on) {
    set_tn_gemm_kernel(kernel_on);
    Tensor w = nl::test::rand_tensor({64, 64}, 22);
    Tensor y = linear(x, w, Tensor());
    sum(mul(y, y)).backward();  // dy = 2 y
    set_tn_gemm_kernel(true);
    return std::make_pair(w.grad().to_vector(), y.to_vector());
  };
  const auto [on, y] = dw_of(true);
  const auto [off, y_off] = dw_of(false);
  REQUIRE(std::memcmp(on.data(), off.data(), sizeof(float) * on.size()) == 0);
  const auto px = x.to_vector();
  double worst = 0.0;
  for (int64_t o = 0; o < 64; ++o)
    for (int64_t i = 0; i < 64; ++i) {
      double want = 0.0, scale = 0.0;  // scale: the sum of the terms' magnitudes
      for (int64_t t = 0; t < 512; ++t) {
        want += 2.0 * y[t * 64 + o] * px[t * 64 + i];
        scale += std::abs(2.0 * y[t * 64 + o] * px[t * 64 + i]);
      }
      worst = std::max(worst, std::abs(on[o * 64 + i] - want) / scale);
    }
  REQUIRE(worst < 1e-6);
}
