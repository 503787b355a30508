// softmax / log_softmax over the last axis: hand values, stability at large logits, fully
// masked rows, agreement with the naive formula, gradients.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();

// Naive softmax in double over the last axis (no max subtraction: fine for small logits).
Tensor reference_softmax(const Tensor& x) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  Tensor y = Tensor::empty(x.shape());
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0.0;
    for (int64_t k = 0; k < C; ++k) s += std::exp(static_cast<double>(x.data()[r * C + k]));
    for (int64_t k = 0; k < C; ++k)
      y.data()[r * C + k] = static_cast<float>(std::exp(static_cast<double>(x.data()[r * C + k])) / s);
  }
  return y;
}
}  // namespace

TEST_CASE("softmax values by hand and against the naive formula", "[ops]") {
  Tensor y = softmax(Tensor::from_vector({0, 0, 0, 0, std::log(3.0f), 0}, {2, 3}));
  for (int k = 0; k < 3; ++k) REQUIRE(y.at({0, k}) == Approx(1.0f / 3));
  REQUIRE(y.at({1, 1}) == Approx(0.6f));  // 3 / (1 + 3 + 1)
  REQUIRE(y.at({1, 0}) == Approx(0.2f));
  Tensor x = rand_tensor({2, 5, 7}, 1, false, -3.0f, 3.0f);
  REQUIRE(nl::test::max_abs_diff(softmax(x), reference_softmax(x)) < 1e-6);
}

TEST_CASE("softmax is stable at large logits", "[ops]") {
  Tensor y = softmax(Tensor::from_vector({1000, 1001, 1002}, {1, 3}));
  Tensor ref = softmax(Tensor::from_vector({0, 1, 2}, {1, 3}));
  REQUIRE(nl::test::max_abs_diff(y, ref) < 1e-6);
  Tensor ly = log_softmax(Tensor::from_vector({-1000, 0}, {2}));
  REQUIRE(ly.at({0}) == Approx(-1000.0f));
  REQUIRE(ly.at({1}) == 0.0f);
}

TEST_CASE("softmax of a fully masked (-inf) row is all zeros, not NaN", "[ops]") {
  // Row 0 fully masked, row 1 partly masked.
  Tensor x = Tensor::from_vector({-kInf, -kInf, -kInf, 0.0f, -kInf, 0.0f}, {2, 3})
                 .requires_grad_();
  Tensor y = softmax(x);
  REQUIRE(y.to_vector() == std::vector<float>{0, 0, 0, 0.5f, 0, 0.5f});
  sum(mul(y, Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}))).backward();
  for (float g : x.grad().to_vector()) REQUIRE(std::isfinite(g));
  REQUIRE(x.grad().at({0, 0}) == 0.0f);
  // log_softmax: log of those zeros, and a zero gradient into the masked row
  Tensor x2 = x.detach().clone().requires_grad_();
  Tensor ly = log_softmax(x2);
  REQUIRE(ly.at({0, 1}) == -kInf);
  REQUIRE(ly.at({1, 0}) == Approx(std::log(0.5f)));
  sum(ly.slice(0, 1, 2).slice(1, 0, 1)).backward();
  REQUIRE(x2.grad().at({0, 2}) == 0.0f);
  REQUIRE(x2.grad().at({1, 0}) == Approx(0.5f));  // 1 - softmax = 0.5
}

TEST_CASE("softmax gradient", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}})
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return softmax(in[0]); },
                      std::vector<Tensor>{rand_tensor(s, 2, true, -2.0f, 2.0f)});
  // with some masked (-inf) entries in a row, as attention produces them
  Tensor x = rand_tensor({2, 4}, 3);
  Tensor mask = Tensor::from_vector({0, 1, 0, 0, 0, 0, 1, 1}, {2, 4});
  REQUIRE_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return softmax(masked_fill(in[0], mask, -kInf)); },
      std::vector<Tensor>{x});
}

TEST_CASE("log_softmax values and gradient", "[ops][gradcheck]") {
  Tensor x = rand_tensor({2, 3, 5}, 4, false, -3.0f, 3.0f);
  Tensor ly = log_softmax(x), y = softmax(x);
  for (int64_t i = 0; i < x.numel(); ++i)
    REQUIRE(ly.data()[i] == Approx(std::log(y.data()[i])).margin(1e-5));
  for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}})
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0]); },
                      std::vector<Tensor>{rand_tensor(s, 5, true, -2.0f, 2.0f)});
}

TEST_CASE("softmax of a scalar names the op and the shape", "[ops][errors]") {
  REQUIRE_THROWS_MENTIONING(softmax(Tensor::scalar(1.0f)), "softmax", "()");
  REQUIRE_THROWS_MENTIONING(log_softmax(Tensor::scalar(1.0f)), "log_softmax", "()");
}
