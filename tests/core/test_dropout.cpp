// dropout: identity in eval and at p = 0, the keep rate and the 1/(1-p) scale, seed
// determinism, gradient through the same mask, bad p.
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("dropout is the identity in eval mode and at p = 0", "[ops]") {
  Tensor x = rand_tensor({3, 4}, 1);
  Rng rng(1);
  const auto state = rng.state();
  REQUIRE(dropout(x, 0.5f, false, rng).to_vector() == x.to_vector());
  REQUIRE(dropout(x, 0.0f, true, rng).to_vector() == x.to_vector());
  REQUIRE(rng.state() == state);  // no random numbers consumed
}

TEST_CASE("dropout keeps about 1-p of the elements, scaled by 1/(1-p)", "[ops]") {
  Tensor x = Tensor::ones({100000});
  Rng rng(7);
  const float p = 0.3f;
  Tensor y = dropout(x, p, true, rng);
  int64_t kept = 0;
  for (float v : y.to_vector()) {
    REQUIRE((v == 0.0f || v == Approx(1.0f / (1.0f - p))));
    kept += v != 0.0f;
  }
  // binomial(1e5, 0.7): std ~ 145, so +-1000 is ~7 sigma
  REQUIRE(std::abs(kept - 70000) < 1000);
  REQUIRE(mean(y).item() == Approx(1.0f).epsilon(0.02));  // inverted dropout keeps the mean
}

TEST_CASE("dropout with the same seed gives the same mask", "[ops]") {
  Tensor x = rand_tensor({2, 3, 50}, 2, false);
  Rng a(42), b(42), c(43);
  Tensor ya = dropout(x, 0.5f, true, a), yb = dropout(x, 0.5f, true, b);
  Tensor yc = dropout(x, 0.5f, true, c);
  REQUIRE(ya.to_vector() == yb.to_vector());
  REQUIRE(ya.to_vector() != yc.to_vector());
}

TEST_CASE("dropout gradient goes through the same mask", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4}}) {
    // the function re-seeds its generator so every evaluation draws the same mask
    REQUIRE_GRADCHECK(
        [](const std::vector<Tensor>& in) {
          Rng rng(99);
          return dropout(in[0], 0.4f, true, rng);
        },
        std::vector<Tensor>{rand_tensor(s, 3)});
  }
  Tensor x = Tensor::ones({20}).requires_grad_();
  Rng rng(5);
  Tensor y = dropout(x, 0.5f, true, rng);
  sum(y).backward();
  REQUIRE(x.grad().to_vector() == y.to_vector());  // d/dx (x * m) = m, and x = 1
}

TEST_CASE("dropout rejects p outside 0 <= p < 1", "[ops][errors]") {
  Tensor x = Tensor::ones({3});
  Rng rng(1);
  REQUIRE_THROWS_MENTIONING(dropout(x, 1.0f, true, rng), "dropout", "[0, 1)");
  REQUIRE_THROWS_AS(dropout(x, -0.1f, true, rng), ValueError);
}
