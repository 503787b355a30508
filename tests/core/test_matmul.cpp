// matmul through sgemm: values against the naive reference (the few-row sgemv path too),
// gradients, shape errors.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
Tensor reference_matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const int64_t M = ta ? a.size(-1) : a.size(-2), K = ta ? a.size(-2) : a.size(-1);
  const int64_t N = tb ? b.size(-2) : b.size(-1);
  const int64_t batch = a.dim() == 3 ? a.size(0) : 1;
  Tensor out = Tensor::zeros(a.dim() == 3 ? Shape{batch, M, N} : Shape{M, N});
  for (int64_t i = 0; i < batch; ++i)
    sgemm_reference(ta, tb, M, N, K, 1.0f, a.data() + i * M * K,
                    b.data() + (b.dim() == 3 ? i * K * N : 0), 0.0f, out.data() + i * M * N);
  return out;
}
}  // namespace

TEST_CASE("matmul 2-D matches hand-computed values", "[ops]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::from_vector({7, 8, 9, 10, 11, 12}, {3, 2});
  REQUIRE(matmul(a, b).to_vector() == std::vector<float>{58, 64, 139, 154});
}

TEST_CASE("matmul agrees with the naive reference for every transpose and rank",
          "[ops]") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      Tensor a = rand_tensor(ta ? Shape{3, 7, 5} : Shape{3, 5, 7}, 1, false);
      Tensor b = rand_tensor(tb ? Shape{3, 4, 7} : Shape{3, 7, 4}, 2, false);
      REQUIRE(nl::test::max_abs_diff(matmul(a, b, ta, tb), reference_matmul(a, b, ta, tb)) < 1e-5);
      Tensor a2 = rand_tensor(ta ? Shape{7, 5} : Shape{5, 7}, 3, false);
      Tensor b2 = rand_tensor(tb ? Shape{4, 7} : Shape{7, 4}, 4, false);
      REQUIRE(nl::test::max_abs_diff(matmul(a2, b2, ta, tb), reference_matmul(a2, b2, ta, tb)) < 1e-5);
    }
}

TEST_CASE("matmul gradients for 2-D, batched 3-D and (B,T,K)x(K,N)", "[ops][gradcheck]") {
  auto f = [](bool ta, bool tb) {
    return [=](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); };
  };
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      // M=4, K=3, N=5 stored as the transposes ask
      const Shape sa = ta ? Shape{3, 4} : Shape{4, 3}, sb = tb ? Shape{5, 3} : Shape{3, 5};
      REQUIRE_GRADCHECK(f(ta, tb), std::vector<Tensor>{rand_tensor(sa, 5), rand_tensor(sb, 6)});
      REQUIRE_GRADCHECK(f(ta, tb), std::vector<Tensor>{rand_tensor({2, sa[0], sa[1]}, 7),
                                                       rand_tensor({2, sb[0], sb[1]}, 8)});
    }
  REQUIRE_GRADCHECK(f(false, false), std::vector<Tensor>{rand_tensor({2, 5, 3}, 9), rand_tensor({3, 4}, 10)});
  REQUIRE_GRADCHECK(f(false, true), std::vector<Tensor>{rand_tensor({2, 5, 3}, 11), rand_tensor({4, 3}, 12)});
}

TEST_CASE("matmul of (2,3) and (4,5) names the op and both shapes", "[ops][errors]") {
  REQUIRE_THROWS_MENTIONING(matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), "matmul",
                            "(2, 3)", "(4, 5)");
  REQUIRE_THROWS_MENTIONING(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})), "matmul",
                            "batch");
  REQUIRE_THROWS_MENTIONING(matmul(Tensor::zeros({3}), Tensor::zeros({3, 5})), "matmul", "(3,)");
}

TEST_CASE("few-row products: sgemv rows unless OpenBLAS's small-matrix sgemm serves them",
          "[ops][blas]") {
  // Fixed per process by the kernel set OpenBLAS runs (blas_has_small_sgemm).
  INFO("small-matrix sgemm kernels: " << blas_has_small_sgemm());
  CHECK_FALSE(few_rows_as_gemv(5, 256, 256));    // more than 4 rows
  CHECK_FALSE(few_rows_as_gemv(4, 256, 16));     // short K
  CHECK_FALSE(few_rows_as_gemv(4, 1024, 1024));  // op(B) past 2^18 floats
  CHECK(few_rows_as_gemv(1, 256, 256));          // one row: sgemv on every kernel set
  CHECK(few_rows_as_gemv(4, 251, 1000));         // past the small kernels' 10^6 multiply-adds
  CHECK(few_rows_as_gemv(4, 250, 1000) == !blas_has_small_sgemm());
  CHECK(few_rows_as_gemv(2, 256, 784) == !blas_has_small_sgemm());
}

TEST_CASE("sgemm with at most 4 rows (sgemv rows or the small-matrix path) agrees with the "
          "reference", "[ops]") {
  // M <= 4 and K >= 32 take core/blas.cpp's sgemv path (2-4 rows: unless OpenBLAS's small-matrix
  // sgemm serves them); M = 5 the sgemm path, for contrast.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t M : {1, 2, 4, 5})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 1.0f}) {
          INFO("M " << M << " ta " << ta << " tb " << tb << " beta " << beta);
          const int64_t N = 48, K = 40;
          const Tensor a = rand_tensor(ta ? Shape{K, M} : Shape{M, K}, 10 + M, false);
          const Tensor b = rand_tensor(tb ? Shape{N, K} : Shape{K, N}, 20 + M, false);
          const Tensor c0 = rand_tensor({M, N}, 30 + M, false);
          // beta = 0 must ignore what C held, NaN included.
          Tensor c = beta == 0.0f ? Tensor::full({M, N}, nan) : c0.clone();
          Tensor ref = c0.clone();
          sgemm(ta, tb, M, N, K, 0.5f, a.data(), b.data(), beta, c.data());
          sgemm_reference(ta, tb, M, N, K, 0.5f, a.data(), b.data(), beta, ref.data());
          REQUIRE(nl::test::max_abs_diff(c, ref) < 1e-5);
        }
  // Leading dimensions: op(A) rows and C rows inside wider matrices.
  const Tensor wide_a = rand_tensor({3, 100}, 40, false), b = rand_tensor({50, 64}, 41, false);
  Tensor wide_c = Tensor::zeros({3, 80});
  sgemm(false, true, 3, 50, 64, 1.0f, wide_a.data(), 100, b.data(), 64, 0.0f, wide_c.data(), 80);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 50; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < 64; ++k) acc += static_cast<double>(wide_a.at({i, k})) * b.at({j, k});
      REQUIRE(std::abs(wide_c.at({i, j}) - acc) < 1e-4);
    }
  REQUIRE(wide_c.at({2, 79}) == 0.0f);  // outside the 50 columns: untouched
}
