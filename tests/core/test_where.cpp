// where and masked_fill: broadcasting of cond/a/b and of attention-style masks, gradients,
// shape errors.
#include <limits>

#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("where selects with broadcasting", "[ops]") {
  Tensor cond = Tensor::from_vector({1, 0, 1}, {3});
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = Tensor::scalar(-1.0f);
  Tensor y = where(cond, a, b);
  REQUIRE(y.shape() == Shape{2, 3});
  REQUIRE(y.to_vector() == std::vector<float>{1, -1, 3, 4, -1, 6});
  // a column condition picks whole rows
  Tensor col = Tensor::from_vector({0, 1}, {2, 1});
  REQUIRE(where(col, a, Tensor::zeros({3})).to_vector() == std::vector<float>{0, 0, 0, 4, 5, 6});
}

TEST_CASE("where gradient flows to the selected side only, summed over broadcasts",
          "[ops][gradcheck]") {
  Tensor cond = Tensor::from_vector({1, 0, 0, 1}, {4});
  auto f = [&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); };
  REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor({4}, 1), rand_tensor({4}, 2)});
  REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor({3, 4}, 3), rand_tensor({1}, 4)});
  REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor({2, 3, 4}, 5), rand_tensor({3, 1}, 6)});
  Tensor cond3 = Tensor::from_vector({1, 0, 1, 1, 0, 0}, {2, 3, 1});
  REQUIRE_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return where(cond3, in[0], in[1]); },
      std::vector<Tensor>{rand_tensor({2, 3, 4}, 7), rand_tensor({2, 3, 4}, 8)});
  Tensor a = Tensor::ones({2, 2}).requires_grad_();
  sum(where(Tensor::from_vector({1, 0}, {2}), a, Tensor::zeros({2, 2}))).backward();
  REQUIRE(a.grad().to_vector() == std::vector<float>{1, 0, 1, 0});
}

TEST_CASE("where of incompatible shapes names the op and both shapes", "[ops][errors]") {
  REQUIRE_THROWS_MENTIONING(where(Tensor::zeros({3}), Tensor::zeros({2, 3}), Tensor::zeros({4})),
                            "where", "(2, 3)", "(4,)");
  REQUIRE_THROWS_MENTIONING(where(Tensor::zeros({5}), Tensor::zeros({2, 3}), Tensor::zeros({3})),
                            "where", "(5,)", "(2, 3)");
}

TEST_CASE("masked_fill with causal and key-padding masks", "[ops]") {
  const float ninf = -std::numeric_limits<float>::infinity();
  // causal (T,T) mask onto (B,T,T) scores: 1 above the diagonal = filled
  Tensor scores = Tensor::zeros({2, 3, 3});
  Tensor causal = Tensor::from_vector({0, 1, 1, 0, 0, 1, 0, 0, 0}, {3, 3});
  Tensor y = masked_fill(scores, causal, ninf);
  REQUIRE(y.at({1, 0, 1}) == ninf);
  REQUIRE(y.at({1, 1, 0}) == 0.0f);
  REQUIRE(y.at({0, 2, 2}) == 0.0f);
  // key padding (B,1,1,T) onto (B,H,T,T): batch 1's last key is padding
  Tensor s4 = rand_tensor({2, 2, 3, 3}, 1, false);
  Tensor pad = Tensor::from_vector({0, 0, 0, 0, 0, 1}, {2, 1, 1, 3});
  Tensor z = masked_fill(s4, pad, -1e9f);
  REQUIRE(z.at({1, 1, 2, 2}) == -1e9f);
  REQUIRE(z.at({1, 0, 0, 2}) == -1e9f);
  REQUIRE(z.at({0, 1, 2, 2}) == s4.at({0, 1, 2, 2}));
  REQUIRE(z.at({1, 1, 2, 1}) == s4.at({1, 1, 2, 1}));
  // a mask of the same shape
  REQUIRE(masked_fill(Tensor::from_vector({1, 2, 3}, {3}), Tensor::from_vector({0, 1, 0}, {3}), 9)
              .to_vector() == std::vector<float>{1, 9, 3});
}

TEST_CASE("masked_fill gradient is zero at filled positions", "[ops][gradcheck]") {
  Tensor m1 = Tensor::from_vector({0, 1, 0, 1, 1}, {5});
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return masked_fill(in[0], m1, 2.0f); },
                    std::vector<Tensor>{rand_tensor({5}, 1)});
  Tensor m2 = Tensor::from_vector({0, 1, 1, 0}, {4});
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return masked_fill(in[0], m2, -5.0f); },
                    std::vector<Tensor>{rand_tensor({3, 4}, 2)});
  Tensor m3 = Tensor::from_vector({1, 0, 0, 0, 0, 1}, {2, 3, 1});
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return masked_fill(in[0], m3, 0.0f); },
                    std::vector<Tensor>{rand_tensor({2, 3, 4}, 3)});
  Tensor a = Tensor::ones({3}).requires_grad_();
  sum(masked_fill(a, m1.slice(0, 0, 3), 7.0f)).backward();
  REQUIRE(a.grad().to_vector() == std::vector<float>{1, 0, 1});
}

TEST_CASE("masked_fill with a mask that does not broadcast names the op and both shapes",
          "[ops][errors]") {
  REQUIRE_THROWS_MENTIONING(masked_fill(Tensor::zeros({2, 3}), Tensor::zeros({4}), 0.0f),
                            "masked_fill", "(2, 3)", "(4,)");
  // the mask may not enlarge the input
  REQUIRE_THROWS_MENTIONING(masked_fill(Tensor::zeros({3}), Tensor::zeros({2, 3}), 0.0f),
                            "masked_fill", "(2, 3)", "(3,)");
}
