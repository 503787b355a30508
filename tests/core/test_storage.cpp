// The caching allocator's blocks: 64-byte aligned, and from 2 MiB on aligned to a huge page
// (so the kernel can back them with transparent huge pages), reused once freed.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/storage.h"
#include "helpers.h"

namespace {

uintptr_t address(const nl::Storage& s) { return reinterpret_cast<uintptr_t>(s.data()); }

bool huge_pages_off() {
  const char* env = std::getenv("NORMLAB_HUGE_PAGES");
  return env && std::string(env) == "0";
}

}  // namespace

TEST_CASE("storage blocks are aligned: 64 bytes, and 2 MiB from 2 MiB on", "[core][storage]") {
  for (int64_t n : {1, 15, 1000, 100000}) {
    nl::Storage s(n);
    REQUIRE(address(s) % 64 == 0);
  }
  constexpr uintptr_t kHuge = uintptr_t(2) << 20;
  for (int64_t floats : {int64_t(1) << 19, (int64_t(1) << 19) + 7, int64_t(3) << 20}) {
    INFO(floats << " floats");
    nl::Storage s(floats);
    REQUIRE(address(s) % 64 == 0);
    if (!huge_pages_off()) REQUIRE(address(s) % kHuge == 0);
    // The whole block is usable memory.
    float* p = s.data();
    for (int64_t i = 0; i < floats; i += 4096) p[i] = static_cast<float>(i);
    p[floats - 1] = 1.0f;
    for (int64_t i = 0; i < floats; i += 4096) REQUIRE(p[i] == static_cast<float>(i));
  }
}

TEST_CASE("a freed large block comes back from the cache", "[core][storage]") {
  const int64_t n = int64_t(1) << 20;  // 4 MiB
  uintptr_t first = 0;
  {
    nl::Storage s(n);
    first = address(s);
  }
  const int64_t allocs = nl::allocator_stats().system_allocs;
  nl::Storage again(n);
  REQUIRE(address(again) == first);
  REQUIRE(nl::allocator_stats().system_allocs == allocs);
}
