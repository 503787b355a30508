// FlushDenormalsScope (core/denormals.h): denormal results read 0 inside the scope, the
// previous floating-point mode comes back after it, nested scopes included.
#include <cfloat>
#include <cmath>

#include "core/denormals.h"
#include "helpers.h"

using namespace nl;

namespace {
// Through volatile, so the compiler cannot fold the arithmetic at compile time.
float product(float a, float b) {
  volatile float x = a, y = b;
  return x * y;
}
}  // namespace

TEST_CASE("FlushDenormalsScope flushes denormal results to zero and restores the mode after",
          "[denormals]") {
  const float tiny = FLT_MIN;  // the smallest normal float
  const float outside = product(tiny, 0.5f);
  REQUIRE(std::fpclassify(outside) == FP_SUBNORMAL);  // IEEE gradual underflow by default
#if defined(__SSE__) || defined(__x86_64__)
  {
    const FlushDenormalsScope flush;
    CHECK(product(tiny, 0.5f) == 0.0f);
    CHECK(product(outside, 1.0f) == 0.0f);  // a denormal input reads as 0
    CHECK(product(tiny, 2.0f) == 2.0f * FLT_MIN);  // normal numbers untouched
    {
      const FlushDenormalsScope nested;
      CHECK(product(tiny, 0.5f) == 0.0f);
    }
    CHECK(product(tiny, 0.5f) == 0.0f);  // the outer scope's mode, not the default
  }
#endif
  CHECK(std::fpclassify(product(tiny, 0.5f)) == FP_SUBNORMAL);
}
