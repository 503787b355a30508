// SGD: plain, weight decay, momentum and Nesterov against hand-computed steps.
#include "helpers.h"
#include "optim/sgd.h"

using namespace nl;

namespace {
std::vector<float> run(SGD& opt, Tensor p, const std::vector<float>& grads) {
  std::vector<float> out;
  for (float g : grads) {
    p.set_grad(Tensor::from_vector({g}, {1}));
    opt.step();
    out.push_back(p.to_vector()[0]);
  }
  return out;
}
}  // namespace

TEST_CASE("SGD momentum and Nesterov match steps computed by hand", "[optim]") {
  // p0 = 1, lr = 0.1, mu = 0.9, gradients 1, 2, -1.
  // momentum: b = 1, 2.9, 1.61 -> p = 0.9, 0.61, 0.449
  // Nesterov: same b; step uses g + mu·b = 1.9, 4.61, 0.449 -> p = 0.81, 0.349, 0.3041
  // Tolerance 1e-6: float32 rounding over three steps of O(1) values.
  {
    Tensor p = Tensor::from_vector({1.0f}, {1}).requires_grad_();
    SGD opt({{"w", p}}, SGDOptions{0.1, 0.9, false, 0.0});
    const auto got = run(opt, p, {1, 2, -1});
    REQUIRE(got[0] == Approx(0.9).margin(1e-6));
    REQUIRE(got[1] == Approx(0.61).margin(1e-6));
    REQUIRE(got[2] == Approx(0.449).margin(1e-6));
  }
  {
    Tensor p = Tensor::from_vector({1.0f}, {1}).requires_grad_();
    SGD opt({{"w", p}}, SGDOptions{0.1, 0.9, true, 0.0});
    const auto got = run(opt, p, {1, 2, -1});
    REQUIRE(got[0] == Approx(0.81).margin(1e-6));
    REQUIRE(got[1] == Approx(0.349).margin(1e-6));
    REQUIRE(got[2] == Approx(0.3041).margin(1e-6));
  }
}

TEST_CASE("SGD plain and with weight decay match steps computed by hand", "[optim]") {
  Tensor p = Tensor::from_vector({1.0f}, {1}).requires_grad_();
  SGD plain({{"w", p}}, SGDOptions{0.5, 0.0, false, 0.0});
  REQUIRE(run(plain, p, {0.5f, -1.0f}) == std::vector<float>{0.75f, 1.25f});  // exact in binary
  // wd 0.1: g' = 1 + 0.1·1 = 1.1 -> p = 1 - 0.1·1.1 = 0.89; then g' = 0 + 0.089 -> 0.8811
  Tensor q = Tensor::from_vector({1.0f}, {1}).requires_grad_();
  SGD wd({{"w", q}}, SGDOptions{0.1, 0.0, false, 0.1});
  const auto got = run(wd, q, {1.0f, 0.0f});
  REQUIRE(got[0] == Approx(0.89).margin(1e-6));
  REQUIRE(got[1] == Approx(0.8811).margin(1e-6));
  REQUIRE_THROWS_AS(SGD({{"w", q}}, SGDOptions{0.1, 0.0, true, 0.0}), ValueError);
  REQUIRE_THROWS_AS(SGD({{"w", q}, {"w", q}}, SGDOptions{}), ValueError);
}
