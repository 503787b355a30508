// core/transpose.h: every element lands at its transposed place, for whole 8×8 tiles, ragged
// edges and strided source and destination, and nothing outside the block is written.
#include <catch2/catch.hpp>

#include <vector>

#include "core/transpose.h"

TEST_CASE("transpose_into moves element (r, c) to (c, r) for tiled and ragged blocks",
          "[core][transpose]") {
  for (int64_t rows : {1, 7, 8, 9, 16, 64, 13})
    for (int64_t cols : {1, 5, 8, 17, 32}) {
      const int64_t ld_src = cols + 3, ld_dst = rows + 5;
      std::vector<float> src(static_cast<size_t>(rows * ld_src));
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
      std::vector<float> dst(static_cast<size_t>(cols * ld_dst), -1.0f);
      nl::transpose_into(src.data(), ld_src, rows, cols, dst.data(), ld_dst);
      INFO("rows " << rows << " cols " << cols);
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t j = 0; j < ld_dst; ++j) {
          const float want = j < rows ? src[static_cast<size_t>(j * ld_src + c)] : -1.0f;
          REQUIRE(dst[static_cast<size_t>(c * ld_dst + j)] == want);  // padding untouched
        }
    }
}
