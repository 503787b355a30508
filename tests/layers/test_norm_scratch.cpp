// layers/kernels/norm_common.h: the kernels' Scratch buffers are zeroed and start on a cache
// line, slices at line_floats() strides too, and a reused size comes from the allocator's cache.
#include <catch2/catch.hpp>

#include <cstdint>

#include "core/storage.h"
#include "layers/kernels/norm_common.h"

namespace {

bool on_cache_line(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

}  // namespace

TEST_CASE("Scratch is zeroed and 64-byte aligned, and its line_floats slices are aligned",
          "[layers][norm][scratch]") {
  for (int64_t C : {1, 7, 16, 100, 128, 130, 1024}) {
    const int64_t stride = nl::kernels::line_floats(C);
    REQUIRE(stride >= C);
    REQUIRE(stride % 16 == 0);
    REQUIRE(stride - C < 16);
    {
      nl::kernels::Scratch dirty(3 * stride);  // leave non-zero values in the allocator's cache
      for (int64_t i = 0; i < 3 * stride; ++i) dirty[i] = 1.0f + static_cast<float>(i);
    }
    nl::kernels::Scratch s(3 * stride);
    for (int k = 0; k < 3; ++k) REQUIRE(on_cache_line(s.data() + k * stride));
    for (int64_t i = 0; i < 3 * stride; ++i) REQUIRE(s[i] == 0.0f);
  }
}

TEST_CASE("Scratch of a size used before takes no new system allocation",
          "[layers][norm][scratch]") {
  { nl::kernels::Scratch warm(4096); }
  const int64_t before = nl::allocator_stats().system_allocs;
  for (int i = 0; i < 10; ++i) nl::kernels::Scratch again(4096);
  REQUIRE(nl::allocator_stats().system_allocs == before);
}

TEST_CASE("Scratch next to page-long rows starts half a page past them in the low 12 bits",
          "[layers][norm][scratch]") {
  nl::Storage x(8 * 2048);  // 64-byte aligned, like every tensor
  for (int64_t shift : {0, 16, 48, 1000}) {  // rows at several offsets within a page
    const float* rows = x.data() + shift;
    for (int64_t row_len : {1024, 2048}) {
      nl::kernels::Scratch s(500, rows, row_len);
      REQUIRE(on_cache_line(s.data()));
      const auto gap = (reinterpret_cast<std::uintptr_t>(s.data()) -
                        reinterpret_cast<std::uintptr_t>(rows)) % 4096;
      REQUIRE(gap >= 2048 - 63);  // within a line of half a page (rows off a line: shift 1000)
      REQUIRE(gap <= 2048 + 63);
      for (int64_t i = 0; i < 500; ++i) REQUIRE(s[i] == 0.0f);
    }
  }
  // Shorter rows: no placement, just a zeroed, aligned buffer.
  nl::kernels::Scratch plain(100, x.data(), 256);
  REQUIRE(on_cache_line(plain.data()));
  REQUIRE(plain[99] == 0.0f);
}
