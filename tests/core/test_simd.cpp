// core/simd.h: unaligned load/store round trip, splat, the fixed order of hsum, and any().
#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "core/simd.h"

using nl::simd::Vf16;

TEST_CASE("simd load and store round-trip at an unaligned address; splat fills every lane",
          "[core][simd]") {
  std::vector<float> buf(40, 0.0f);
  for (int i = 0; i < 40; ++i) buf[i] = static_cast<float>(i);
  const Vf16 v = nl::simd::load(buf.data() + 3);  // not 64-byte aligned
  for (int k = 0; k < 16; ++k) REQUIRE(v[k] == static_cast<float>(k + 3));
  nl::simd::store(buf.data() + 21, v + nl::simd::splat(100.0f));
  for (int k = 0; k < 16; ++k) REQUIRE(buf[21 + k] == static_cast<float>(k + 103));
  REQUIRE(buf[20] == 20.0f);  // neighbours untouched
  REQUIRE(buf[37] == 37.0f);
}

TEST_CASE("simd hsum adds halves in a fixed tree (16 -> 8 -> 4 -> 2 -> 1)", "[core][simd]") {
  // Lane 0 and lane 8 cancel in the first halving, so the 14 ones survive. Added left to
  // right, 1e8 + 1 rounds back to 1e8 (float spacing 8 there) and the sum would be 7.
  float lanes[16];
  for (float& l : lanes) l = 1.0f;
  lanes[0] = 1e8f;
  lanes[8] = -1e8f;
  REQUIRE(nl::simd::hsum(nl::simd::load(lanes)) == 14.0f);
  for (int k = 0; k < 16; ++k) lanes[k] = static_cast<float>(k);
  REQUIRE(nl::simd::hsum(nl::simd::load(lanes)) == 120.0f);
}

TEST_CASE("simd any is true when one lane of a comparison is, false when none is",
          "[core][simd]") {
  float lanes[16];
  for (int k = 0; k < 16; ++k) lanes[k] = static_cast<float>(k);
  const Vf16 v = nl::simd::load(lanes);
  REQUIRE_FALSE(nl::simd::any(v > nl::simd::splat(15.0f)));
  REQUIRE(nl::simd::any(v > nl::simd::splat(14.0f)));  // lane 15 only
  REQUIRE(nl::simd::any(v < nl::simd::splat(0.5f)));   // lane 0 only
  lanes[7] = std::numeric_limits<float>::quiet_NaN();  // NaN compares false
  REQUIRE_FALSE(nl::simd::any(nl::simd::load(lanes) > nl::simd::splat(15.0f)));
  REQUIRE(nl::simd::any(~(nl::simd::load(lanes) <= nl::simd::splat(15.0f))));
}
