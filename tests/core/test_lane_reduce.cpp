// core/lane_reduce.h: sum, dot and max against plain loops, the documented merge order, tails
// of every length, and max's handling of -inf, NaN and n == 0.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/lane_reduce.h"

namespace lanes = nl::lanes;

TEST_CASE("lanes::sum and lanes::dot match double sums for every length 0..50", "[core]") {
  std::vector<float> a(50), b(50);
  for (int i = 0; i < 50; ++i) {
    a[i] = std::sin(0.7f * i) * 3.0f;
    b[i] = std::cos(1.3f * i) - 0.25f;
  }
  for (int n = 0; n <= 50; ++n) {
    double s = 0.0, d = 0.0;
    for (int i = 0; i < n; ++i) s += a[i], d += double(a[i]) * b[i];
    INFO("n " << n);
    REQUIRE(std::abs(lanes::sum(a.data(), n) - s) < 1e-5);
    REQUIRE(std::abs(lanes::dot(a.data(), b.data(), n) - d) < 1e-5);
  }
  REQUIRE(lanes::sum(a.data(), 0) == 0.0f);
}

TEST_CASE("lanes::sum adds lane k's terms (j = k mod 16), the lanes 0..15, then the tail",
          "[core]") {
  // Lane 0 gets 1e8 then 4, which rounds back to 1e8 (float spacing 8 there, ties to even);
  // lane 1 gets -1e8; the tail's 3 comes last: 3. Added left to right the 4 would survive: 7.
  std::vector<float> v(33, 0.0f);
  v[0] = 1e8f;
  v[16] = 4.0f;   // lane 0 again
  v[1] = -1e8f;   // lane 1
  v[32] = 3.0f;   // the tail, added last
  REQUIRE(lanes::sum(v.data(), 33) == 3.0f);
  REQUIRE(lanes::sum(33, [&](int64_t j) { return v[j]; }) == 3.0f);
  float left_to_right = 0.0f;
  for (float x : v) left_to_right += x;
  REQUIRE(left_to_right == 7.0f);  // the order matters for this input
}

TEST_CASE("lanes::max: largest value, -inf when empty or all -inf, NaNs skipped", "[core]") {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> v(37);
  for (int i = 0; i < 37; ++i) v[i] = -float((i * 7) % 37);
  v[35] = 2.5f;  // in the tail
  REQUIRE(lanes::max(v.data(), 37) == 2.5f);
  REQUIRE(lanes::max(v.data(), 35) == 0.0f);
  REQUIRE(lanes::max(v.data(), 0) == -inf);
  std::vector<float> masked(20, -inf);
  REQUIRE(lanes::max(masked.data(), 20) == -inf);
  masked[3] = nan;
  masked[17] = -1.0f;
  REQUIRE(lanes::max(masked.data(), 20) == -1.0f);
}
