// Unary and scalar ops: values against hand-computed results and std:: math, gradients
// through the harness on 1-D, 2-D and 3-D (B,T,C) shapes.
#include <cmath>

#include "core/fast_math.h"
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
const std::vector<Shape> kShapes = {{7}, {3, 5}, {2, 3, 4}};

using UnaryFn = Tensor (*)(const Tensor&);

// Gradchecks fn on every shape in kShapes with inputs uniform in [lo, hi).
void gradcheck_unary(const std::function<Tensor(const Tensor&)>& fn, float lo = -1.0f,
                     float hi = 1.0f, const GradcheckOptions& opt = {}) {
  uint64_t seed = 100;
  for (const Shape& s : kShapes) {
    INFO("shape " << shape_str(s));
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return fn(in[0]); },
                      std::vector<Tensor>{rand_tensor(s, ++seed, true, lo, hi)}, opt);
  }
}

// Uniform values in [-1, 1) pushed at least 0.1 away from 0, for ops with a kink at 0 (the
// central difference with eps 1e-2 must not straddle it).
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Tensor t = rand_tensor(s, seed, false);
  float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] >= 0 ? 0.1f + 0.9f * p[i] : -0.1f + 0.9f * p[i];
  return t.requires_grad_();
}

// Compares fn(x) against the scalar reference f on a fixed set of values.
void check_values(UnaryFn fn, float (*f)(float), const std::vector<float>& xs) {
  Tensor y = fn(Tensor::from_vector(xs, {static_cast<int64_t>(xs.size())}));
  for (size_t i = 0; i < xs.size(); ++i) {
    INFO("x = " << xs[i]);
    REQUIRE(y.data()[i] == Approx(f(xs[i])).margin(1e-6));
  }
}
}  // namespace

TEST_CASE("add_scalar / mul_scalar / rsub_scalar / rdiv_scalar values", "[ops]") {
  Tensor a = Tensor::from_vector({1, -2, 4}, {3});
  REQUIRE(add_scalar(a, 1.5f).to_vector() == std::vector<float>{2.5f, -0.5f, 5.5f});
  REQUIRE(mul_scalar(a, -2).to_vector() == std::vector<float>{-2, 4, -8});
  REQUIRE(rsub_scalar(10, a).to_vector() == std::vector<float>{9, 12, 6});
  REQUIRE(rdiv_scalar(8, a).to_vector() == std::vector<float>{8, -4, 2});
  REQUIRE(neg(a).to_vector() == std::vector<float>{-1, 2, -4});
  // the operators route to the same ops
  REQUIRE((a + 1.0f).to_vector() == std::vector<float>{2, -1, 5});
  REQUIRE((1.0f - a).to_vector() == std::vector<float>{0, 3, -3});
  REQUIRE((a / 2.0f).to_vector() == std::vector<float>{0.5f, -1, 2});
  REQUIRE((4.0f / a).to_vector() == std::vector<float>{4, -2, 1});
  REQUIRE((-a).to_vector() == std::vector<float>{-1, 2, -4});
}

TEST_CASE("add_scalar gradient", "[ops][gradcheck]") {
  gradcheck_unary([](const Tensor& x) { return add_scalar(x, 3.0f); });
}
TEST_CASE("mul_scalar gradient", "[ops][gradcheck]") {
  gradcheck_unary([](const Tensor& x) { return mul_scalar(x, -1.5f); });
}
TEST_CASE("rsub_scalar gradient", "[ops][gradcheck]") {
  gradcheck_unary([](const Tensor& x) { return rsub_scalar(2.0f, x); });
}
TEST_CASE("rdiv_scalar gradient", "[ops][gradcheck]") {
  // inputs in [0.5, 2): away from the pole at 0
  gradcheck_unary([](const Tensor& x) { return rdiv_scalar(3.0f, x); }, 0.5f, 2.0f);
}
TEST_CASE("neg gradient", "[ops][gradcheck]") { gradcheck_unary([](const Tensor& x) { return neg(x); }); }

TEST_CASE("exp values and gradient", "[ops][gradcheck]") {
  check_values(exp, [](float x) { return std::exp(x); }, {0.0f, 1.0f, -2.0f, 3.5f});
  REQUIRE(exp(Tensor::scalar(1.0f)).item() == Approx(2.718281828f));
  gradcheck_unary([](const Tensor& x) { return exp(x); });
}

TEST_CASE("log values and gradient", "[ops][gradcheck]") {
  check_values(log, [](float x) { return std::log(x); }, {1.0f, 2.718281828f, 0.5f, 10.0f});
  REQUIRE(log(Tensor::scalar(1.0f)).item() == 0.0f);
  gradcheck_unary([](const Tensor& x) { return log(x); }, 0.5f, 2.0f);
}

TEST_CASE("sqrt values and gradient", "[ops][gradcheck]") {
  REQUIRE(sqrt(Tensor::from_vector({4, 9, 0.25f}, {3})).to_vector() ==
          std::vector<float>{2, 3, 0.5f});
  gradcheck_unary([](const Tensor& x) { return sqrt(x); }, 0.5f, 2.0f);
}

TEST_CASE("pow values and gradient for several exponents", "[ops][gradcheck]") {
  Tensor a = Tensor::from_vector({2, 3, 0.5f}, {3});
  REQUIRE(pow(a, 2.0f).to_vector() == std::vector<float>{4, 9, 0.25f});
  REQUIRE(pow(a, 3.0f).at({0}) == Approx(8.0f));
  REQUIRE(pow(a, -1.0f).at({2}) == Approx(2.0f));
  REQUIRE(pow(a, 0.0f).to_vector() == std::vector<float>{1, 1, 1});
  for (float e : {2.0f, 3.0f, 0.5f, -1.5f}) {
    INFO("exponent " << e);
    gradcheck_unary([e](const Tensor& x) { return pow(x, e); }, 0.5f, 2.0f);
  }
  // x^0 has zero gradient even at x = 0 (no 0 * inf)
  Tensor z = Tensor::zeros({3}).requires_grad_();
  sum(pow(z, 0.0f)).backward();
  REQUIRE(z.grad().to_vector() == std::vector<float>{0, 0, 0});
}

TEST_CASE("tanh values and gradient", "[ops][gradcheck]") {
  check_values(tanh, [](float x) { return std::tanh(x); }, {0.0f, 0.5f, -2.0f, 20.0f});
  gradcheck_unary([](const Tensor& x) { return tanh(x); }, -2.0f, 2.0f);
}

TEST_CASE("sigmoid values (stable in both tails) and gradient", "[ops][gradcheck]") {
  Tensor y = sigmoid(Tensor::from_vector({0.0f, 2.0f, -2.0f, 100.0f, -100.0f}, {5}));
  REQUIRE(y.at({0}) == 0.5f);
  REQUIRE(y.at({1}) == Approx(1.0f / (1.0f + std::exp(-2.0f))));
  REQUIRE(y.at({2}) == Approx(1.0f / (1.0f + std::exp(2.0f))));
  REQUIRE(y.at({3}) == 1.0f);
  REQUIRE(y.at({4}) >= 0.0f);
  REQUIRE(y.at({4}) < 1e-40f);  // exp(-100) underflows towards 0 without NaN
  gradcheck_unary([](const Tensor& x) { return sigmoid(x); }, -3.0f, 3.0f);
}

TEST_CASE("relu values and gradient", "[ops][gradcheck]") {
  REQUIRE(relu(Tensor::from_vector({-1, 0, 2.5f}, {3})).to_vector() ==
          std::vector<float>{0, 0, 2.5f});
  for (const Shape& s : kShapes)
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return relu(in[0]); },
                      std::vector<Tensor>{away_from_zero(s, 7)});
  // derivative at exactly 0 is 0 (PyTorch's convention)
  Tensor z = Tensor::from_vector({0, 1}, {2}).requires_grad_();
  sum(relu(z)).backward();
  REQUIRE(z.grad().to_vector() == std::vector<float>{0, 1});
}

TEST_CASE("gelu values (erf form) and gradient", "[ops][gradcheck]") {
  // Hand values: gelu(x) = x * Phi(x); Phi(1) = 0.841344746, Phi(-1) = 0.158655254.
  Tensor y = gelu(Tensor::from_vector({0.0f, 1.0f, -1.0f, 2.0f}, {4}));
  REQUIRE(y.at({0}) == 0.0f);
  REQUIRE(y.at({1}) == Approx(0.841344746f));
  REQUIRE(y.at({2}) == Approx(-0.158655254f));
  REQUIRE(y.at({3}) == Approx(2.0f * 0.977249868f));
  gradcheck_unary([](const Tensor& x) { return gelu(x); }, -3.0f, 3.0f);
}

TEST_CASE("gelu with a gradient to come: the same output, and the gradient its derivative", "[ops]") {
  // The forward that saves dy/dx (input requires grad) against the plain one, and the
  // backward's product against fast_gelu_with_grad's dy/dx, bit for bit, on the parallel path
  // and in the tails.
  Tensor x = rand_tensor({100000}, 5, false, -9.0f, 9.0f);
  Tensor xg = x.clone().requires_grad_();
  Tensor d = rand_tensor({100000}, 6, false, -1.0f, 1.0f);
  Tensor y_plain = gelu(x), y_grad = gelu(xg);
  REQUIRE(y_plain.to_vector() == y_grad.to_vector());
  y_grad.backward(d);
  for (int64_t i = 0; i < x.numel(); ++i) {
    float y = 0.0f, dydx = 0.0f;
    fast_gelu_with_grad(x.data()[i], &y, &dydx);
    if (xg.grad().data()[i] != d.data()[i] * dydx) FAIL("gelu gradient differs at " << i);
  }
}

TEST_CASE("unary ops name themselves when given an undefined tensor", "[ops][errors]") {
  REQUIRE_THROWS_WITH(gelu(Tensor()), Catch::Contains("gelu") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(relu(Tensor()), Catch::Contains("relu") && Catch::Contains("undefined"));
  REQUIRE_THROWS_WITH(tanh(Tensor()), Catch::Contains("tanh") && Catch::Contains("undefined"));
}

TEST_CASE("unary ops run the parallel path and agree with the serial one", "[ops][threads]") {
  // 100k elements exceed the parallel grain; the values must not depend on the thread count.
  Tensor x = rand_tensor({100000}, 3, false, -3.0f, 3.0f);
  nl::ThreadCountGuard restore_threads;
  set_num_threads(1);
  Tensor y1 = gelu(x), t1 = tanh(x);
  set_num_threads(2);
  Tensor y2 = gelu(x), t2 = tanh(x);
  REQUIRE(y1.to_vector() == y2.to_vector());
  REQUIRE(t1.to_vector() == t2.to_vector());
  for (int64_t i = 0; i < x.numel(); i += 997)
    REQUIRE(t1.data()[i] == std::tanh(x.data()[i]));
}
