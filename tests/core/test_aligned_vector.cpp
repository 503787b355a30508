// core/aligned_vector.h: storage on a 64-byte line for every size and element type, and the
// line-multiple rounding the kernels use to keep consecutive slices aligned.
#include <catch2/catch.hpp>

#include <cstdint>

#include "core/aligned_vector.h"

namespace {

template <class T>
bool on_cache_line(const T* p) {
  return reinterpret_cast<std::uintptr_t>(p) % 64 == 0;
}

}  // namespace

TEST_CASE("AlignedVector storage starts on a cache line whatever its size", "[core][aligned]") {
  for (std::size_t n : {1u, 3u, 16u, 17u, 100u, 1000u, 70000u}) {
    nl::AlignedVector<float> f(n, 1.5f);
    nl::AlignedVector<double> d(n, 2.5);
    REQUIRE(on_cache_line(f.data()));
    REQUIRE(on_cache_line(d.data()));
    REQUIRE(f.back() == 1.5f);
    REQUIRE(d.back() == 2.5);
    f.resize(3 * n + 5);  // reallocation keeps the alignment
    REQUIRE(on_cache_line(f.data()));
  }
}

TEST_CASE("cache_line_multiple rounds up to whole 64-byte lines of the element type",
          "[core][aligned]") {
  REQUIRE(nl::cache_line_multiple<float>(0) == 0);
  REQUIRE(nl::cache_line_multiple<float>(1) == 16);
  REQUIRE(nl::cache_line_multiple<float>(16) == 16);
  REQUIRE(nl::cache_line_multiple<float>(100) == 112);
  REQUIRE(nl::cache_line_multiple<double>(9) == 16);
  // Slices of a buffer at that stride all start on a line.
  const std::size_t stride = nl::cache_line_multiple<float>(130);
  nl::AlignedVector<float> buf(4 * stride);
  for (int c = 0; c < 4; ++c) REQUIRE(on_cache_line(buf.data() + c * stride));
}
