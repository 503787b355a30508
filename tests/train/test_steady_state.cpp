// The steady-state check behind `normlab bench models --memory`: after a warm-up a training
// step asks the system for no memory (the caching allocator hands the same blocks back), and
// bad step numbers are refused.
#include "helpers.h"
#include "train/steady_state.h"
#include "train/workloads.h"

namespace {

// AddressSanitizer keeps freed memory in quarantine (and poisons it) instead of reusing it, so
// under it the resident set grows with every freed scratch vector, by design.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kResidentSetMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kResidentSetMeaningful = false;
#else
constexpr bool kResidentSetMeaningful = true;
#endif
#else
constexpr bool kResidentSetMeaningful = true;
#endif

const nl::ReferenceWorkload& workload(const std::string& name) {
  static const auto all = nl::reference_workloads();
  for (const auto& w : all)
    if (w.name == name) return w;
  FAIL("no reference workload " << name);
  return all.front();
}

}  // namespace

TEST_CASE("a training step reaches a steady state: no system allocation, no growth",
          "[train][bench]") {
  for (const char* name : {"mlp_bn_b4", "rnn_ln_b4", "lm_tiny"}) {
    INFO(name);
    const nl::SteadyState s = nl::measure_steady_state(workload(name), 10, 40);
    REQUIRE(s.first_step == 10);
    REQUIRE(s.last_step == 40);
    REQUIRE(s.allocs_per_step == 0.0);
    REQUIRE(s.rss_mb_first > 0.0);
    // Every buffer of a step comes back from the allocator's cache: the resident set stays put
    // (a little slack for the C library's own bookkeeping) and the cache holds the step's blocks.
    if (kResidentSetMeaningful) REQUIRE(s.rss_mb_last <= s.rss_mb_first + 1.0);
    REQUIRE(s.cached_mb > 0.0);
  }
}

TEST_CASE("steady state: step numbers out of order are refused", "[train][bench]") {
  const auto& w = workload("mlp_ln_b4");
  REQUIRE_THROWS_WITH(nl::measure_steady_state(w, 0, 10), Catch::Contains("first step"));
  REQUIRE_THROWS_WITH(nl::measure_steady_state(w, 10, 10), Catch::Contains("first step"));
}
