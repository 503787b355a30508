// fast_tanh / fast_exp_nonpos against libm in double precision.
#include <cmath>

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
