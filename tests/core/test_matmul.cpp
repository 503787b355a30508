// matmul through sgemm: values against the naive reference, gradients, shape errors.
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
