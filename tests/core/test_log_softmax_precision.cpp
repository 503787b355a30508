// log_softmax and cross_entropy at large logits (~100) against a double-precision reference.
// Forming log p = x - (m + log s) rounds m + log s to an ulp of m (7.6e-6 at 100), so every
// output is off by up to 3.8e-6; (x - m) - log s keeps the error near an ulp of log p
// (~2e-7 here). The tolerance below separates the two.
#include <cmath>
#include <vector>

#include "helpers.h"

using namespace nl;
using namespace nl::test;

namespace {

constexpr double kTol = 1e-6;

// Row-wise log_softmax in double of float inputs.
std::vector<double> ref_log_softmax(const float* x, int64_t C) {
  double m = x[0];
  for (int64_t k = 1; k < C; ++k) m = std::max(m, static_cast<double>(x[k]));
  double s = 0.0;
  for (int64_t k = 0; k < C; ++k) s += std::exp(x[k] - m);
  std::vector<double> out(C);
  for (int64_t k = 0; k < C; ++k) out[k] = (x[k] - m) - std::log(s);
  return out;
}

}  // namespace

TEST_CASE("log_softmax at logits near 100 matches a double reference to 1e-6", "[core][softmax][precision]") {
  const int64_t R = 256, C = 10;
  Tensor x = rand_tensor({R, C}, 42, /*requires_grad=*/true, 99.0f, 101.0f);
  Tensor y = log_softmax(x);
  double worst = 0.0;
  for (int64_t i = 0; i < R; ++i) {
    const std::vector<double> ref = ref_log_softmax(x.data() + i * C, C);
    for (int64_t k = 0; k < C; ++k) worst = std::max(worst, std::abs(y.data()[i * C + k] - ref[k]));
  }
  INFO("worst |error| " << worst);
  CHECK(worst < kTol);
  // The backward still matches finite differences.
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return log_softmax(in[0]); },
                    {rand_tensor({3, 5}, 7, true, 99.0f, 101.0f)});
}

TEST_CASE("cross_entropy at logits near 100 matches a double reference to 1e-6", "[core][loss][precision]") {
  const int64_t C = 10;
  double worst = 0.0, worst_grad = 0.0;
  for (uint64_t seed = 0; seed < 256; ++seed) {  // one row per call: the mean does not average errors away
    Tensor x = rand_tensor({1, C}, 1000 + seed, /*requires_grad=*/true, 99.0f, 101.0f);
    const int64_t t = static_cast<int64_t>(seed % C);
    Tensor target = Tensor::from_vector({static_cast<float>(t)}, {1});
    Tensor loss = cross_entropy(x, target);
    loss.backward();
    const std::vector<double> ref = ref_log_softmax(x.data(), C);
    worst = std::max(worst, std::abs(loss.item() + ref[t]));
    for (int64_t k = 0; k < C; ++k) {
      const double g = std::exp(ref[k]) - (k == t ? 1.0 : 0.0);
      worst_grad = std::max(worst_grad, std::abs(x.grad().data()[k] - g));
    }
  }
  INFO("worst |loss error| " << worst << ", worst |grad error| " << worst_grad);
  CHECK(worst < kTol);
  CHECK(worst_grad < kTol);
}
