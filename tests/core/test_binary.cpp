// add, sub, mul, div: values (incl. broadcasting) and gradients.
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("add broadcasts a bias over (B,T,C) and sums its gradient", "[ops][gradcheck]") {
  Tensor x = rand_tensor({2, 3, 4}, 1);
  Tensor bias = rand_tensor({4}, 2);
  Tensor y = add(x, bias);
  REQUIRE(y.shape() == Shape{2, 3, 4});
  REQUIRE(y.at({1, 2, 3}) == Approx(x.at({1, 2, 3}) + bias.at({3})));
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return add(in[0], in[1]); },
                    std::vector<Tensor>{x, bias});
  // row and column vectors
  Tensor col = rand_tensor({3, 1}, 3), row = rand_tensor({1, 5}, 4);
  Tensor z = add(col, row);
  REQUIRE(z.shape() == Shape{3, 5});
  REQUIRE(z.at({2, 4}) == Approx(col.at({2, 0}) + row.at({0, 4})));
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return add(in[0], in[1]); },
                    std::vector<Tensor>{col, row});
}

TEST_CASE("sub values and gradients with broadcasting", "[ops][gradcheck]") {
  Tensor a = Tensor::from_vector({5, 7, 9}, {3});
  Tensor b = Tensor::from_vector({1, 2, 3}, {3});
  REQUIRE(sub(a, b).to_vector() == std::vector<float>{4, 5, 6});
  Tensor x = rand_tensor({2, 3, 4}, 5), y = rand_tensor({3, 1}, 6);
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return sub(in[0], in[1]); },
                    std::vector<Tensor>{x, y});
}

TEST_CASE("mul values and gradients, incl. a tensor used twice", "[ops][gradcheck]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector({10, 20}, {2});
  REQUIRE(mul(a, b).to_vector() == std::vector<float>{10, 40, 30, 80});
  Tensor x = rand_tensor({2, 3, 4}, 7), y = rand_tensor({1, 3, 1}, 8);
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); },
                    std::vector<Tensor>{x, y});
  // x*x: gradient 2x accumulates from both uses
  Tensor s = rand_tensor({5}, 9);
  Tensor sq = mul(s, s);
  sum(sq).backward();
  for (int64_t i = 0; i < 5; ++i) REQUIRE(s.grad().at({i}) == Approx(2 * s.at({i})));
}

TEST_CASE("div values and gradients", "[ops][gradcheck]") {
  Tensor a = Tensor::from_vector({1, 2, 3}, {3});
  Tensor b = Tensor::from_vector({2, 4, 8}, {3});
  REQUIRE(div(a, b).to_vector() == std::vector<float>{0.5f, 0.5f, 0.375f});
  Tensor x = rand_tensor({2, 3, 4}, 10), y = rand_tensor({4}, 11, true, 0.5f, 2.0f);
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return div(in[0], in[1]); },
                    std::vector<Tensor>{x, y});
}

TEST_CASE("add of incompatible shapes names the op and both shapes", "[ops][errors]") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  REQUIRE_THROWS_MENTIONING(add(a, b), "add", "(2, 3)", "(4,)");
}
