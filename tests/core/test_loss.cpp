// cross_entropy and mse_loss: hand values, masks and ignore_index, the naive composition
// (log_softmax + pick) as reference, gradients, and bad targets / shapes.
#include <cmath>
#include <limits>

#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
// Reference cross entropy through primitive ops' values: mean over counted rows of
// -log_softmax(x)[t]. x: (N,C), t: (N), mask (N) or undefined.
float reference_cross_entropy(const Tensor& x, const Tensor& t, const Tensor& mask,
                              int64_t ignore) {
  Tensor lp = log_softmax(x.detach());
  const int64_t C = x.size(-1), N = t.numel();
  double total = 0.0;
  int64_t count = 0;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t c = static_cast<int64_t>(t.data()[i]);
    if (c == ignore || (mask.defined() && mask.data()[i] == 0.0f)) continue;
    total -= lp.data()[i * C + c];
    ++count;
  }
  return count ? static_cast<float>(total / count) : 0.0f;
}

Tensor random_targets(const Shape& s, int64_t C, uint64_t seed) {
  Rng rng(seed);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(rng.randint(C));
  return t;
}
}  // namespace

TEST_CASE("cross_entropy hand values", "[ops]") {
  // uniform logits over 4 classes: loss = log 4
  Tensor x = Tensor::zeros({3, 4});
  Tensor t = Tensor::from_vector({0, 3, 1}, {3});
  REQUIRE(cross_entropy(x, t).item() == Approx(std::log(4.0f)));
  // one row, logits (0, ln 3): p(class 1) = 3/4
  Tensor x2 = Tensor::from_vector({0, std::log(3.0f)}, {1, 2});
  REQUIRE(cross_entropy(x2, Tensor::from_vector({1}, {1})).item() == Approx(-std::log(0.75f)));
  REQUIRE(cross_entropy(x2, Tensor::from_vector({0}, {1})).item() == Approx(-std::log(0.25f)));
  // stable at large logits
  Tensor x3 = Tensor::from_vector({1000, 1000 + std::log(3.0f)}, {1, 2});
  REQUIRE(cross_entropy(x3, Tensor::from_vector({1}, {1})).item() ==
          Approx(-std::log(0.75f)).margin(1e-3));  // 1000 + ln3 rounds in float32
}

TEST_CASE("cross_entropy over 37 classes matches log-sum-exp in double; -inf logits get 0",
          "[ops]") {
  // 37 = two 16-lane blocks and a tail of 5: every path of the lane reductions.
  const int64_t N = 3, C = 37;
  Tensor x = rand_tensor({N, C}, 7, false, -6.0f, 6.0f);
  x.data()[1 * C + 20] = -std::numeric_limits<float>::infinity();
  Tensor t = Tensor::from_vector({5, 36, 0}, {N});
  double ref = 0.0;
  for (int64_t i = 0; i < N; ++i) {
    const float* row = x.data() + i * C;
    double m = -1e300, s = 0.0;
    for (int64_t k = 0; k < C; ++k) m = std::max(m, double(row[k]));
    for (int64_t k = 0; k < C; ++k) s += std::exp(double(row[k]) - m);
    ref += m + std::log(s) - row[static_cast<int64_t>(t.data()[i])];
  }
  ref /= N;
  Tensor xg = x.clone().requires_grad_();
  Tensor loss = cross_entropy(xg, t);
  REQUIRE(std::abs(loss.item() - ref) < 1e-6 * std::abs(ref) + 1e-6);
  loss.backward();
  REQUIRE(xg.grad().at({1, 20}) == 0.0f);  // p = 0 exactly, as in PyTorch
  for (float g : xg.grad().to_vector()) REQUIRE(std::isfinite(g));
  // each row's gradient sums to 0 (softmax - one-hot), up to rounding
  for (int64_t i = 0; i < N; ++i) {
    double row_sum = 0.0;
    for (int64_t k = 0; k < C; ++k) row_sum += xg.grad().at({i, k});
    REQUIRE(std::abs(row_sum) < 1e-6);
  }
}

TEST_CASE("cross_entropy with mask and ignore_index matches the reference", "[ops]") {
  Tensor x = rand_tensor({6, 5}, 1, false, -2.0f, 2.0f);
  Tensor t = Tensor::from_vector({0, 4, -100, 2, 1, 3}, {6});
  Tensor mask = Tensor::from_vector({1, 1, 1, 0, 1, 1}, {6});
  REQUIRE(cross_entropy(x, t).item() == Approx(reference_cross_entropy(x, t, Tensor(), -100)));
  REQUIRE(cross_entropy(x, t, mask).item() ==
          Approx(reference_cross_entropy(x, t, mask, -100)));
  // a custom ignore_index
  Tensor t2 = Tensor::from_vector({0, 4, 4, 2, 1, 3}, {6});
  REQUIRE(cross_entropy(x, t2, Tensor(), 4).item() ==
          Approx(reference_cross_entropy(x, t2, Tensor(), 4)));
  // nothing counted: 0, and a zero gradient
  Tensor xg = x.clone().requires_grad_();
  Tensor none = cross_entropy(xg, t, Tensor::zeros({6}));
  REQUIRE(none.item() == 0.0f);
  none.backward();
  for (float g : xg.grad().to_vector()) REQUIRE(g == 0.0f);
}

TEST_CASE("cross_entropy on (B,T,C) equals the flattened (N,C) version", "[ops]") {
  Tensor x = rand_tensor({2, 3, 4}, 2, false);
  Tensor t = random_targets({2, 3}, 4, 3);
  Tensor mask = Tensor::from_vector({1, 1, 0, 1, 0, 0}, {2, 3});
  REQUIRE(cross_entropy(x, t, mask).item() ==
          Approx(cross_entropy(x.reshape({6, 4}), t.reshape({6}), mask.reshape({6})).item()));
}

TEST_CASE("cross_entropy gradient on (N,C) and (B,T,C), with mask and ignore_index",
          "[ops][gradcheck]") {
  Tensor t1 = random_targets({5}, 3, 4);
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t1); },
                    std::vector<Tensor>{rand_tensor({5, 3}, 5)});
  Tensor t2 = random_targets({2, 3}, 4, 6);
  t2.set({1, 1}, -100);
  Tensor mask = Tensor::from_vector({1, 0, 1, 1, 1, 1}, {2, 3});
  REQUIRE_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t2, mask); },
      std::vector<Tensor>{rand_tensor({2, 3, 4}, 7)});
  // gradient accumulates with another use of the same logits
  Tensor t3 = random_targets({4}, 6, 8);
  REQUIRE_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return add(cross_entropy(in[0], t3), sum(in[0])); },
      std::vector<Tensor>{rand_tensor({4, 6}, 9)});
}

TEST_CASE("cross_entropy rejects bad class ids and shapes", "[ops][errors]") {
  Tensor x = Tensor::zeros({3, 4});
  REQUIRE_THROWS_AS(cross_entropy(x, Tensor::from_vector({0, 4, 1}, {3})), ValueError);
  REQUIRE_THROWS_MENTIONING(cross_entropy(x, Tensor::from_vector({0, 4, 1}, {3})),
                            "cross_entropy", "class id 4", "[0, 4)");
  REQUIRE_THROWS_MENTIONING(cross_entropy(x, Tensor::from_vector({0, -1, 1}, {3})),
                            "class id -1");
  REQUIRE_THROWS_MENTIONING(cross_entropy(x, Tensor::from_vector({0, 1.5f, 1}, {3})),
                            "class id 1.5");
  // a masked-out position may hold anything
  REQUIRE_NOTHROW(cross_entropy(x, Tensor::from_vector({0, 99, 1}, {3}),
                                Tensor::from_vector({1, 0, 1}, {3})));
  REQUIRE_THROWS_MENTIONING(cross_entropy(x, Tensor::zeros({4})), "cross_entropy", "(3, 4)",
                            "(4,)");
  REQUIRE_THROWS_MENTIONING(cross_entropy(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 2})),
                            "cross_entropy", "(2, 3, 4)", "(3, 2)");
  REQUIRE_THROWS_MENTIONING(cross_entropy(x, Tensor::zeros({3}), Tensor::zeros({2})),
                            "cross_entropy", "mask", "(2,)", "(3,)");
}

TEST_CASE("mse_loss values with and without mask", "[ops]") {
  Tensor p = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  Tensor t = Tensor::from_vector({1, 0, 0, 4}, {2, 2});
  REQUIRE(mse_loss(p, t).item() == Approx((0 + 4 + 9 + 0) / 4.0f));
  Tensor mask = Tensor::from_vector({1, 1, 0, 1}, {2, 2});
  REQUIRE(mse_loss(p, t, mask).item() == Approx(4.0f / 3.0f));
  REQUIRE(mse_loss(p, t, Tensor::zeros({2, 2})).item() == 0.0f);
}

TEST_CASE("mse_loss gradient with respect to both inputs, with a mask", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}}) {
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1]); },
                      std::vector<Tensor>{rand_tensor(s, 10), rand_tensor(s, 11)});
    Tensor mask = rand_tensor(s, 12, false);
    for (int64_t i = 0; i < mask.numel(); ++i) mask.data()[i] = mask.data()[i] > 0 ? 1.0f : 0.0f;
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], mask); },
        std::vector<Tensor>{rand_tensor(s, 13), rand_tensor(s, 14)});
  }
}

TEST_CASE("mse_loss of mismatched shapes names the op and both shapes", "[ops][errors]") {
  REQUIRE_THROWS_MENTIONING(mse_loss(Tensor::zeros({4, 1}), Tensor::zeros({4})), "mse_loss",
                            "(4, 1)", "(4,)");
  REQUIRE_THROWS_MENTIONING(mse_loss(Tensor::zeros({4}), Tensor::zeros({4}), Tensor::zeros({3})),
                            "mse_loss", "mask", "(3,)");
}
