// Linear: values by hand, gradients (2-D and 3-D, weight and bias), PyTorch init statistics.
#include <cmath>

#include "helpers.h"
#include "layers/linear.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("Linear forward equals x·Wᵀ + b computed by hand", "[layers]") {
  Rng rng(1);
  Linear lin({3, 2, true}, rng);
  lin.weight.copy_(Tensor::from_vector({1, 2, 3, -1, 0, 2}, {2, 3}));
  lin.bias.copy_(Tensor::from_vector({0.5f, -1}, {2}));
  Tensor x = Tensor::from_vector({1, 1, 1, 2, 0, -1}, {2, 3});
  // row 0: (1+2+3)+0.5 = 6.5, (-1+0+2)-1 = 0; row 1: (2+0-3)+0.5 = -0.5, (-2+0-2)-1 = -5
  REQUIRE(lin.forward(x).to_vector() == std::vector<float>{6.5f, 0.0f, -0.5f, -5.0f});
  // (B,T,in) gives (B,T,out) with the same rows.
  Tensor y3 = lin.forward(x.reshape({1, 2, 3}));
  REQUIRE(y3.shape() == Shape{1, 2, 2});
  REQUIRE(y3.to_vector() == std::vector<float>{6.5f, 0.0f, -0.5f, -5.0f});
}

TEST_CASE("Linear gradients of input, weight and bias on (N,in) and (B,T,in)", "[layers][gradcheck]") {
  Rng rng(2);
  Linear lin({5, 4, true}, rng);
  auto f = [&](const std::vector<Tensor>& in) { return lin.forward(in[0]); };
  for (const Shape& s : {Shape{3, 5}, Shape{2, 3, 5}, Shape{1, 1, 5}})
    REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor(s, 3), lin.weight, lin.bias});
}

TEST_CASE("Linear without bias: gradients and no bias parameter", "[layers][gradcheck]") {
  Rng rng(4);
  Linear lin({3, 6, false}, rng);
  REQUIRE(!lin.bias.defined());
  REQUIRE(lin.named_parameters().size() == 1);
  auto f = [&](const std::vector<Tensor>& in) { return lin.forward(in[0]); };
  REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor({2, 4, 3}, 5), lin.weight});
}

TEST_CASE("Linear init: Kaiming-uniform a=sqrt(5) bound and bias bound 1/sqrt(fan_in)", "[layers][init]") {
  // gain = sqrt(2/(1+5)) = sqrt(1/3); bound = gain*sqrt(3/fan_in) = 1/sqrt(fan_in).
  REQUIRE(Linear::weight_bound(64) == Approx(1.0 / 8.0).epsilon(1e-12));
  Rng rng(7);
  const int64_t in = 256, out = 512;
  Linear lin({in, out, true}, rng);
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  double sum = 0, sq = 0, wmax = 0;
  for (float w : lin.weight.to_vector()) {
    sum += w;
    sq += double(w) * w;
    wmax = std::max(wmax, std::abs(double(w)));
  }
  const double n = double(in * out), mean = sum / n, std = std::sqrt(sq / n - mean * mean);
  REQUIRE(wmax <= bound);
  REQUIRE(wmax > 0.99 * bound);  // 131072 draws reach the edge of the interval
  // U(-b, b): mean 0, std b/sqrt(3). Standard error of the mean is b/sqrt(3n) ~ 1e-3·b, so
  // 1e-2·b is 6+ standard errors; the std estimate is tighter still.
  REQUIRE(std::abs(mean) < 1e-2 * bound);
  REQUIRE(std == Approx(bound / std::sqrt(3.0)).epsilon(1e-2));
  for (float b : lin.bias.to_vector()) REQUIRE(std::abs(b) <= bound);
  // Same seed, same init; a reset draws new values.
  Rng rng2(7);
  Linear lin2({in, out, true}, rng2);
  REQUIRE(lin2.weight.to_vector() == lin.weight.to_vector());
  lin2.reset_parameters(rng2);
  REQUIRE(lin2.weight.to_vector() != lin.weight.to_vector());
}

TEST_CASE("Linear rejects inputs of the wrong width with both shapes", "[layers][errors]") {
  Rng rng(8);
  Linear lin({3, 2, true}, rng);
  REQUIRE_THROWS_MENTIONING(lin.forward(Tensor::zeros({4, 5})), "Linear", "(4, 5)", "(2, 3)");
  REQUIRE_THROWS_AS(Linear({0, 2, true}, rng), ValueError);
  REQUIRE(lin.print() == "Linear(in_features=3, out_features=2, bias=true)");
}
