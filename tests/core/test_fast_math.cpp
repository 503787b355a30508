// fast_tanh / fast_exp_nonpos(_or_zero) against libm in double precision; the 16-lane
// fast_exp_nonpos against the scalar one, bit for bit.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/fast_math.h"
#include "helpers.h"

TEST_CASE("fast_tanh matches std::tanh to float precision", "[core]") {
  double worst_abs = 0.0;
  for (double x = -20.0; x <= 20.0; x += 1.0 / 1024.0 + 1e-7) {
    const float xf = static_cast<float>(x);
    worst_abs = std::max(worst_abs, std::abs(nl::fast_tanh(xf) - std::tanh(double(xf))));
  }
  // A few float ulps of values in [-1, 1]: ulp(1) = 1.2e-7.
  REQUIRE(worst_abs < 4e-7);
  // Relative accuracy near zero (the Taylor branch) and exact symmetry.
  for (float x : {1e-30f, 1e-6f, 0.01f, 0.0624f, 0.0626f, 0.3f}) {
    REQUIRE(std::abs(nl::fast_tanh(x) / std::tanh(double(x)) - 1.0) < 4e-7);
    REQUIRE(nl::fast_tanh(-x) == -nl::fast_tanh(x));
  }
  REQUIRE(nl::fast_tanh(0.0f) == 0.0f);
  REQUIRE(nl::fast_tanh(100.0f) == 1.0f);
  REQUIRE(nl::fast_tanh(-1e30f) == -1.0f);
}

TEST_CASE("fast_exp_nonpos matches std::exp on [-87, 0]", "[core]") {
  double worst_rel = 0.0;
  for (double x = -87.0; x <= 0.0; x += 0.001) {
    const float xf = static_cast<float>(x);
    worst_rel = std::max(worst_rel, std::abs(nl::fast_exp_nonpos(xf) / std::exp(double(xf)) - 1.0));
  }
  REQUIRE(worst_rel < 5e-7);  // a few ulps (ulp = 6e-8 relative)
}

TEST_CASE("fast_exp_nonpos on 16 lanes gives the scalar function's bits", "[core]") {
  // ~410,000 points over [-100, 0] (steps of 1/4096), the clamp at -87, -0 and -inf.
  std::vector<float> xs = {-0.0f, -std::numeric_limits<float>::infinity(), -87.0f, -86.99999f};
  for (double x = -100.0; x <= 0.0; x += 1.0 / 4096.0 + 1e-9) xs.push_back(static_cast<float>(x));
  while (xs.size() % nl::simd::kWidth != 0) xs.push_back(-1.0f);
  int64_t mismatches = 0;
  for (size_t i = 0; i < xs.size(); i += nl::simd::kWidth) {
    const nl::simd::Vf16 e = nl::fast_exp_nonpos(nl::simd::load(xs.data() + i));
    for (int k = 0; k < nl::simd::kWidth; ++k) {
      const float scalar = nl::fast_exp_nonpos(xs[i + k]);
      mismatches += std::memcmp(&scalar, &e[k], sizeof scalar) != 0;
    }
  }
  REQUIRE(mismatches == 0);
}

TEST_CASE("fast_exp_nonpos_or_zero: exp on [-87, 0], 0 below and at -inf, NaN kept", "[core]") {
  for (float x : {0.0f, -1e-7f, -0.5f, -10.0f, -86.99f})
    REQUIRE(nl::fast_exp_nonpos_or_zero(x) == nl::fast_exp_nonpos(x));
  REQUIRE(nl::fast_exp_nonpos_or_zero(0.0f) == 1.0f);
  REQUIRE(nl::fast_exp_nonpos_or_zero(-87.5f) == 0.0f);
  REQUIRE(nl::fast_exp_nonpos_or_zero(-1e30f) == 0.0f);
  REQUIRE(nl::fast_exp_nonpos_or_zero(-std::numeric_limits<float>::infinity()) == 0.0f);
  REQUIRE(std::isnan(nl::fast_exp_nonpos_or_zero(std::numeric_limits<float>::quiet_NaN())));
}

TEST_CASE("fast_normal_cdf, fast_gelu and fast_gelu_with_grad match the erf form in double", "[core]") {
  double worst_cdf_rel = 0.0, worst_tail_rel = 0.0, worst_gelu = 0.0, worst_grad = 0.0;
  for (double x = -12.0; x <= 12.0; x += 1.0 / 512.0 + 1e-7) {
    const float xf = static_cast<float>(x);
    const double xd = xf;
    const double cdf = 0.5 * std::erfc(-xd / std::sqrt(2.0));
    const double pdf = std::exp(-0.5 * xd * xd) / std::sqrt(2.0 * M_PI);
    // relative in both tails (erfc form: no cancellation in 1 + erf for x << 0); the float
    // rounding of z² in exp(-z²) dominates: ulp(z²) is 1e-6 at z² = 12.5, 8e-6 at z² = 72
    const double rel = std::abs(nl::fast_normal_cdf(xf) / cdf - 1.0);
    (x >= -5.0 ? worst_cdf_rel : worst_tail_rel) = std::max(x >= -5.0 ? worst_cdf_rel : worst_tail_rel, rel);
    worst_gelu = std::max(worst_gelu, std::abs(nl::fast_gelu(xf) - xd * cdf) / std::max(1.0, std::abs(xd)));
    float y = 0.0f, dydx = 0.0f;
    nl::fast_gelu_with_grad(xf, &y, &dydx);
    worst_grad = std::max(worst_grad, std::abs(dydx - (cdf + xd * pdf)));
    // the forward that also gives dy/dx gives the same y as the plain one, bit for bit
    if (y != nl::fast_gelu(xf)) FAIL("fast_gelu_with_grad's y differs from fast_gelu at x = " << x);
  }
  REQUIRE(worst_cdf_rel < 4e-6);
  REQUIRE(worst_tail_rel < 3e-5);
  REQUIRE(worst_gelu < 4e-7);
  REQUIRE(worst_grad < 4e-7);
  REQUIRE(nl::fast_gelu(0.0f) == 0.0f);
  REQUIRE(nl::fast_normal_cdf(-40.0f) >= 0.0f);
  REQUIRE(nl::fast_normal_cdf(40.0f) == 1.0f);
}
