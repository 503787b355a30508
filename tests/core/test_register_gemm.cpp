// register_gemm (normlab's own sgemm kernel, core/register_gemm.h): values against the double
// reference in each form, OpenBLAS's bits wherever sgemm uses it, the rule that sends products
// to it, errors, and a Linear's three products through it.
#include <cblas.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/register_gemm.h"
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

// Whether the kernel serves products here (an OpenBLAS whose K blocks it knows).
bool kernel_used_here() { return register_gemm_fits(true, false, 64, 64, 2048, 1.0f, 0.0f); }

struct Form { bool ta, tb; };
constexpr Form kForms[] = {{true, false}, {false, false}, {false, true}};

// op(A)(i, k) and op(B)(k, j) of row-major A, B with leading dimensions lda, ldb.
float op_a(const std::vector<float>& A, int64_t lda, bool ta, int64_t i, int64_t k) {
  return ta ? A[k * lda + i] : A[i * lda + k];
}
float op_b(const std::vector<float>& B, int64_t ldb, bool tb, int64_t k, int64_t j) {
  return tb ? B[j * ldb + k] : B[k * ldb + j];
}
}  // namespace

TEST_CASE("register_gemm matches the double reference in each form, K over several blocks, "
          "strided, beta 0 and 1", "[blas][register_gemm]") {
  struct Case { int64_t M, N, K; };
  for (const Form f : kForms)
    for (const Case c :
         {Case{8, 16, 1}, Case{16, 48, 700}, Case{24, 80, 2048}, Case{40, 32, 321}}) {
      // Leading dimensions past the matrices' widths: a block of a wider matrix.
      const int64_t lda = (f.ta ? c.M : c.K) + 3, ldb = (f.tb ? c.K : c.N) + 5, ldc = c.N + 1;
      const auto A = randoms((f.ta ? c.K : c.M) * lda, 1), B = randoms((f.tb ? c.N : c.K) * ldb, 2);
      for (float beta : {0.0f, 1.0f}) {
        const auto C0 = randoms(c.M * ldc, 3);
        std::vector<float> C = C0;
        register_gemm(f.ta, f.tb, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        double worst = 0.0;
        for (int64_t i = 0; i < c.M; ++i)
          for (int64_t j = 0; j < c.N; ++j) {
            double want = beta == 1.0f ? C0[i * ldc + j] : 0.0, scale = std::abs(want);
            for (int64_t k = 0; k < c.K; ++k) {
              const double term =
                  static_cast<double>(op_a(A, lda, f.ta, i, k)) * op_b(B, ldb, f.tb, k, j);
              want += term;
              scale += std::abs(term);
            }
            worst = std::max(worst, std::abs(C[i * ldc + j] - want) / scale);
          }
        INFO("ta " << f.ta << " tb " << f.tb << " M " << c.M << " N " << c.N << " K " << c.K
                   << " beta " << beta);
        REQUIRE(worst < 1e-6);
        for (int64_t i = 0; i < c.M; ++i)  // the column past N is left alone
          REQUIRE(C[i * ldc + c.N] == C0[i * ldc + c.N]);
      }
    }
}

TEST_CASE("register_gemm gives OpenBLAS's bits in each form wherever sgemm sends products to it",
          "[blas][register_gemm]") {
  if (!kernel_used_here()) {
    WARN("this OpenBLAS (" << openblas_get_corename()
                           << ") keeps every product: nothing to compare");
    return;
  }
  // Every K block rule around this kernel set's Q (one block, two halves, full blocks then
  // halves) and the fixed list the kernel was first matched over.
  const int64_t q = register_gemm_blas_q();
  REQUIRE(q > 0);
  std::vector<int64_t> ks = {32, 319, 320, 321, 640, 641, 700, 959, 1001, 2048, 3001};
  for (int64_t k : {q - 1, q, q + 1, 2 * q - 1, 2 * q, 2 * q + 1, 3 * q + 17}) ks.push_back(k);
  int compared = 0;
  for (const Form f : kForms)
    for (int64_t K : ks)
      for (auto [M, N] : {std::pair<int64_t, int64_t>{128, 128}, {24, 80}, {512, 64}, {256, 784}}) {
        if (!register_gemm_fits(f.ta, f.tb, M, N, K, 1.0f, 0.0f)) continue;
        const int64_t lda = f.ta ? M : K, ldb = f.tb ? K : N;
        const auto A = randoms(K * M, 10), B = randoms(K * N, 11);
        for (float beta : {0.0f, 1.0f}) {
          const auto C0 = randoms(M * N, 12);
          std::vector<float> ours = C0, theirs = C0;
          // As sgemm calls OpenBLAS: on one thread (its threaded driver splits K differently).
          choose_blas_threads(M, N, K);
          register_gemm(f.ta, f.tb, M, N, K, A.data(), lda, B.data(), ldb, beta, ours.data(), N);
          cblas_sgemm(CblasRowMajor, f.ta ? CblasTrans : CblasNoTrans,
                      f.tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A.data(), lda, B.data(),
                      ldb, beta, theirs.data(), N);
          INFO("ta " << f.ta << " tb " << f.tb << " M " << M << " N " << N << " K " << K
                     << " beta " << beta);
          REQUIRE(std::memcmp(ours.data(), theirs.data(), sizeof(float) * M * N) == 0);
          ++compared;
        }
      }
  REQUIRE(compared >= 100);  // every form and every K block rule met
  // Products that underflow to -0: OpenBLAS adds the sums onto a zeroed C, so +0 comes out.
  const int64_t M = 128, N = 128, K = 64;
  const std::vector<float> tiny_a(K * M, -1e-30f), tiny_b(K * N, 1e-30f);
  for (const Form f : kForms) {
    std::vector<float> ours(M * N, 5.0f), theirs(M * N, 5.0f);
    choose_blas_threads(M, N, K);
    register_gemm(f.ta, f.tb, M, N, K, tiny_a.data(), f.ta ? M : K, tiny_b.data(), f.tb ? K : N,
                  0.0f, ours.data(), N);
    cblas_sgemm(CblasRowMajor, f.ta ? CblasTrans : CblasNoTrans, f.tb ? CblasTrans : CblasNoTrans,
                M, N, K, 1.0f, tiny_a.data(), f.ta ? M : K, tiny_b.data(), f.tb ? K : N, 0.0f,
                theirs.data(), N);
    REQUIRE(std::memcmp(ours.data(), theirs.data(), sizeof(float) * M * N) == 0);
    REQUIRE(!std::signbit(ours[0]));
  }
}

TEST_CASE("sgemm sends only the products the rule names to register_gemm, and the switch turns "
          "it off", "[blas][register_gemm]") {
  if (!kernel_used_here()) return;  // the rule is off as a whole (the test above says so)
  CHECK(register_gemm_fits(true, false, 128, 128, 2048, 1.0f, 1.0f));   // a weight gradient
  CHECK(register_gemm_fits(true, false, 256, 784, 64, 1.0f, 0.0f));     // ... K in one block
  CHECK(register_gemm_fits(false, false, 2048, 128, 512, 1.0f, 0.0f));   // an input gradient
  CHECK(register_gemm_fits(false, false, 32, 256, 256, 1.0f, 0.0f));     // an RNN step's
  CHECK_FALSE(register_gemm_fits(false, true, 32, 256, 256, 1.0f, 1.0f));  // a forward of 32 rows
  if (register_gemm_blas_q() == 320) {  // Cooperlake (its Q): larger products and forwards too
    CHECK(register_gemm_fits(true, false, 128, 512, 2048, 1.0f, 1.0f));
    CHECK(register_gemm_fits(false, false, 2048, 512, 128, 1.0f, 0.0f));
    CHECK(register_gemm_fits(false, true, 2048, 128, 512, 1.0f, 1.0f));  // a Linear forward
  } else {  // SkylakeX: not where OpenBLAS measured faster
    CHECK_FALSE(register_gemm_fits(true, false, 128, 512, 2048, 1.0f, 1.0f));
    CHECK_FALSE(register_gemm_fits(false, false, 2048, 512, 128, 1.0f, 0.0f));
    CHECK_FALSE(register_gemm_fits(false, true, 2048, 128, 512, 1.0f, 1.0f));
  }
  // Each of these differs in one respect from the first product above, taken on both kernel sets.
  CHECK_FALSE(register_gemm_fits(true, true, 128, 128, 2048, 1.0f, 0.0f));
  CHECK_FALSE(register_gemm_fits(true, false, 128, 128, 2048, 2.0f, 0.0f));   // alpha
  CHECK_FALSE(register_gemm_fits(true, false, 128, 128, 2048, 1.0f, 0.5f));   // beta
  CHECK_FALSE(register_gemm_fits(true, false, 12, 128, 2048, 1.0f, 0.0f));    // M not by 8
  CHECK_FALSE(register_gemm_fits(true, false, 128, 40, 2048, 1.0f, 0.0f));    // N not by 16
  CHECK_FALSE(register_gemm_fits(true, false, 256, 32, 2048, 1.0f, 0.0f));    // N below 64
  CHECK_FALSE(register_gemm_fits(true, false, 256, 784, 4, 1.0f, 0.0f));      // K below 32
  CHECK_FALSE(register_gemm_fits(false, false, 64, 64, 64, 1.0f, 0.0f));      // small kernels
  set_register_gemm(false);
  CHECK_FALSE(register_gemm_fits(true, false, 128, 128, 2048, 1.0f, 0.0f));
  set_register_gemm(true);
  CHECK(register_gemm_on());
  {
    const RegisterGemmScope off(false);
    CHECK_FALSE(register_gemm_on());
  }
  CHECK(register_gemm_on());  // restored
}

TEST_CASE("register_gemm refuses shapes it has no tiles for", "[blas][register_gemm][errors]") {
  std::vector<float> buf(64 * 64);
  REQUIRE_THROWS_MENTIONING(
      register_gemm(true, false, 12, 64, 64, buf.data(), 12, buf.data(), 64, 0.0f, buf.data(), 64),
      "register_gemm", "multiple of 8");
  REQUIRE_THROWS_MENTIONING(
      register_gemm(false, false, 8, 64, 64, buf.data(), 64, buf.data(), 64, 0.5f, buf.data(), 64),
      "register_gemm", "beta 0 or 1");
  REQUIRE_THROWS_MENTIONING(
      register_gemm(true, true, 8, 64, 64, buf.data(), 8, buf.data(), 64, 0.0f, buf.data(), 64),
      "register_gemm", "not both transposed");
}

TEST_CASE("a Linear's output, dx and dW through register_gemm: the double reference, and the "
          "same bits with the kernel off", "[blas][register_gemm][ops][linear]") {
  // 512 rows of 64 inputs, 64 outputs with a bias: y = x Wᵀ + b (512 × 64 × 64, B transposed),
  // dx = dy W and dW = dyᵀ x, 2 M multiply-adds each.
  struct Result { std::vector<float> y, dx, dw; };
  auto run = [](bool kernel_on) {
    set_register_gemm(kernel_on);
    Tensor x = nl::test::rand_tensor({512, 64}, 21);
    Tensor w = nl::test::rand_tensor({64, 64}, 22);
    Tensor b = nl::test::rand_tensor({64}, 23);
    Tensor y = linear(x, w, b);
    sum(mul(y, y)).backward();  // dy = 2 y
    set_register_gemm(true);
    return Result{y.to_vector(), x.grad().to_vector(), w.grad().to_vector()};
  };
  const Result on = run(true), off = run(false);
  REQUIRE(on.y == off.y);
  REQUIRE(on.dx == off.dx);
  REQUIRE(on.dw == off.dw);
  const auto px = nl::test::rand_tensor({512, 64}, 21).to_vector();
  const auto pw = nl::test::rand_tensor({64, 64}, 22).to_vector();
  const auto pb = nl::test::rand_tensor({64}, 23).to_vector();
  double worst = 0.0;
  // got against start + the sum of term(k) for k < n, in double, relative to the terms' sizes.
  auto check_sum = [&](float got, double start, int64_t n, auto term) {
    double want = start, scale = std::abs(start);
    for (int64_t k = 0; k < n; ++k) {
      const double v = term(k);
      want += v;
      scale += std::abs(v);
    }
    worst = std::max(worst, std::abs(got - want) / scale);
  };
  for (int64_t t = 0; t < 512; ++t)
    for (int64_t o = 0; o < 64; ++o)
      check_sum(on.y[t * 64 + o], pb[o], 64,
                [&](int64_t i) { return static_cast<double>(px[t * 64 + i]) * pw[o * 64 + i]; });
  for (int64_t t = 0; t < 512; ++t)
    for (int64_t i = 0; i < 64; ++i)
      check_sum(on.dx[t * 64 + i], 0.0, 64,
                [&](int64_t o) { return 2.0 * on.y[t * 64 + o] * pw[o * 64 + i]; });
  for (int64_t o = 0; o < 64; ++o)
    for (int64_t i = 0; i < 64; ++i)
      check_sum(on.dw[o * 64 + i], 0.0, 512,
                [&](int64_t t) { return 2.0 * on.y[t * 64 + o] * px[t * 64 + i]; });
  REQUIRE(worst < 1e-6);
}

TEST_CASE("sgemm_onto_rows gives the bits of C's rows filled with the row and sgemm onto them, "
          "on every path", "[blas][register_gemm][linear]") {
  // A Linear forward's shape through the register kernel (512 rows), one OpenBLAS keeps (40 rows,
  // N not by 16), split by columns at 2 threads (64 × 1024), sgemv rows (2), and K = 0.
  struct Case { int64_t M, N, K; };
  for (const Case c : {Case{512, 128, 64}, Case{40, 72, 64}, Case{64, 1024, 128}, Case{2, 256, 64},
                       Case{8, 64, 0}}) {
    const auto x = randoms(c.M * std::max<int64_t>(c.K, 1), 31);
    const auto w = randoms(c.N * std::max<int64_t>(c.K, 1), 32);
    const auto bias = randoms(c.N, 33);
    std::vector<float> onto(c.M * c.N, -1.0f), filled(c.M * c.N);
    sgemm_onto_rows(false, true, c.M, c.N, c.K, x.data(), w.data(), bias.data(), onto.data());
    for (int64_t i = 0; i < c.M; ++i)
      std::memcpy(filled.data() + i * c.N, bias.data(), sizeof(float) * c.N);
    set_register_gemm(false);  // the bias written first, then OpenBLAS onto it
    sgemm(false, true, c.M, c.N, c.K, 1.0f, x.data(), w.data(), 1.0f, filled.data());
    set_register_gemm(true);
    INFO("M " << c.M << " N " << c.N << " K " << c.K);
    REQUIRE(std::memcmp(onto.data(), filled.data(), sizeof(float) * c.M * c.N) == 0);
  }
}

TEST_CASE("register_gemm with rows: the bits of the rows written into C first",
          "[blas][register_gemm]") {
  for (const Form f : kForms)
    for (int64_t K : {64, 700}) {
      const int64_t M = 24, N = 80, lda = f.ta ? M : K, ldb = f.tb ? K : N;
      const auto A = randoms(K * M, 41), B = randoms(K * N, 42), row = randoms(N, 43);
      std::vector<float> with_rows(M * N, 7.0f), filled(M * N);
      for (int64_t i = 0; i < M; ++i)
        std::memcpy(filled.data() + i * N, row.data(), sizeof(float) * N);
      register_gemm(f.ta, f.tb, M, N, K, A.data(), lda, B.data(), ldb, 1.0f, with_rows.data(), N,
                    row.data());
      register_gemm(f.ta, f.tb, M, N, K, A.data(), lda, B.data(), ldb, 1.0f, filled.data(), N);
      REQUIRE(std::memcmp(with_rows.data(), filled.data(), sizeof(float) * M * N) == 0);
    }
  std::vector<float> buf(64 * 64);
  REQUIRE_THROWS_MENTIONING(register_gemm(false, false, 8, 64, 64, buf.data(), 64, buf.data(), 64,
                                          0.0f, buf.data(), 64, buf.data()),
                            "register_gemm", "1 with rows");
}
