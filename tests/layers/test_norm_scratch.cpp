// layers/kernels/norm_common.h: the kernels' Scratch arrays are zeroed and each starts on a cache
// line, arrays whose length is a multiple of 2 KiB are spaced onto different L1 sets, a reused
// size comes from the allocator's cache, and next to page-long rows the buffer sits half a page
// past them. blocks_last_first visits every row once, in blocks of about 128 KiB, last first.
#include <catch2/catch.hpp>

#include <cstdint>
#include <utility>
#include <vector>

#include "core/storage.h"
#include "layers/kernels/norm_common.h"

namespace {

bool on_cache_line(const float* p) { return reinterpret_cast<std::uintptr_t>(p) % 64 == 0; }

}  // namespace

TEST_CASE("Scratch arrays are zeroed and each starts on a cache line", "[layers][norm][scratch]") {
  for (int64_t C : {1, 7, 16, 100, 128, 130, 512, 1000, 1024, 2048}) {
    {
      nl::kernels::Scratch dirty(3, C);  // leave non-zero values in the allocator's cache
      for (int k = 0; k < 3; ++k)
        for (int64_t i = 0; i < dirty.stride(); ++i) dirty[k][i] = 1.0f + static_cast<float>(i);
    }
    nl::kernels::Scratch s(3, C);
    const int64_t stride = s.stride();
    REQUIRE(stride >= C);
    REQUIRE(stride % 16 == 0);
    // Whole lines, plus a quarter page where whole lines would be a multiple of 2 KiB.
    const int64_t lines = (C + 15) / 16 * 16;
    REQUIRE(stride == (lines % 512 == 0 ? lines + 256 : lines));
    for (int k = 0; k < 3; ++k) {
      REQUIRE(s[k] == s[0] + k * stride);
      REQUIRE(on_cache_line(s[k]));
      for (int64_t i = 0; i < stride; ++i) REQUIRE(s[k][i] == 0.0f);
    }
  }
}

TEST_CASE("Scratch arrays of 2 KiB multiples start on different L1 sets",
          "[layers][norm][scratch]") {
  // The sets repeat every 4 KiB: four arrays a quarter page apart cover four distinct offsets.
  for (int64_t C : {512, 1024, 2048, 4096}) {
    nl::kernels::Scratch s(4, C);
    for (int a = 0; a < 4; ++a)
      for (int b = a + 1; b < 4; ++b) {
        const auto apart = (reinterpret_cast<std::uintptr_t>(s[b]) -
                            reinterpret_cast<std::uintptr_t>(s[a])) % 4096;
        REQUIRE(apart % 1024 == 0);
        REQUIRE(apart != 0);
      }
  }
}

TEST_CASE("Scratch of a size used before takes no new system allocation",
          "[layers][norm][scratch]") {
  { nl::kernels::Scratch warm(1, 4096); }
  const int64_t before = nl::allocator_stats().system_allocs;
  for (int i = 0; i < 10; ++i) nl::kernels::Scratch again(1, 4096);
  REQUIRE(nl::allocator_stats().system_allocs == before);
}

TEST_CASE("Scratch next to page-long rows starts half a page past them in the low 12 bits",
          "[layers][norm][scratch]") {
  nl::Storage x(8 * 2048);  // 64-byte aligned, like every tensor
  for (int64_t shift : {0, 16, 48, 1000}) {  // rows at several offsets within a page
    const float* rows = x.data() + shift;
    for (int64_t row_len : {1024, 2048}) {
      nl::kernels::Scratch s(1, 500, rows, row_len);
      REQUIRE(on_cache_line(s[0]));
      const auto gap = (reinterpret_cast<std::uintptr_t>(s[0]) -
                        reinterpret_cast<std::uintptr_t>(rows)) % 4096;
      REQUIRE(gap >= 2048 - 63);  // within a line of half a page (rows off a line: shift 1000)
      REQUIRE(gap <= 2048 + 63);
      for (int64_t i = 0; i < 500; ++i) REQUIRE(s[0][i] == 0.0f);
    }
  }
  // Shorter rows: no placement, just a zeroed, aligned buffer.
  nl::kernels::Scratch plain(1, 100, x.data(), 256);
  REQUIRE(on_cache_line(plain[0]));
  REQUIRE(plain[0][99] == 0.0f);
}

TEST_CASE("blocks_last_first takes every row once, in blocks of ~128 KiB, last block first",
          "[layers][norm][order]") {
  struct Case {
    int64_t r0, r1, C, multiple;
    int64_t block_rows;  // kTailBlockBytes / (4 C), rounded down to the multiple
  };
  // 96 floats a row: 341 rows to 128 KiB, 336 as a multiple of 16; 128: 256; a row longer than
  // a block: one row a block; a range not starting at 0 (a pool chunk).
  for (const Case& c : {Case{0, 700, 96, 1, 341}, Case{0, 700, 96, 16, 336},
                        Case{0, 2048, 128, 4, 256}, Case{10, 20, 50000, 1, 1},
                        Case{1000, 1517, 128, 4, 256}, Case{0, 0, 128, 1, 256}}) {
    std::vector<std::pair<int64_t, int64_t>> blocks;
    nl::kernels::blocks_last_first(c.r0, c.r1, c.C, c.multiple,
                                   [&](int64_t b0, int64_t b1) { blocks.emplace_back(b0, b1); });
    if (c.r1 == c.r0) {
      CHECK(blocks.empty());
      continue;
    }
    // Blocks from the end backwards, each ending where the one before it began, each starting a
    // whole number of blocks past r0: all full but the first visited (the last rows').
    REQUIRE(!blocks.empty());
    CHECK(blocks.front().second == c.r1);
    CHECK(blocks.back().first == c.r0);
    for (size_t i = 0; i < blocks.size(); ++i) {
      const auto [b0, b1] = blocks[i];
      CHECK(b0 < b1);
      if (i + 1 < blocks.size()) CHECK(blocks[i + 1].second == b0);
      CHECK((b0 - c.r0) % c.block_rows == 0);
      if (i > 0) CHECK(b1 - b0 == c.block_rows);
      else CHECK(b1 - b0 <= c.block_rows);
    }
    CHECK(static_cast<int64_t>(blocks.size()) == (c.r1 - c.r0 + c.block_rows - 1) / c.block_rows);
  }
}
