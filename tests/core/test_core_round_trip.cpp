// core_round_trip: a cache line's round trip between the first two CPUs the caller may use.
#include <pthread.h>
#include <sched.h>

#include <optional>

#include "core/core_round_trip.h"
#include "one_cpu.h"
#include "helpers.h"

namespace {

int allowed_cpus(cpu_set_t* set) {
  REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof *set, set) == 0);
  return CPU_COUNT(set);
}

}  // namespace

TEST_CASE("core_round_trip pins to two allowed CPUs, reports a time and restores affinity",
          "[core][timing]") {
  cpu_set_t before;
  if (allowed_cpus(&before) < 2) {
    REQUIRE_FALSE(nl::core_round_trip(100, 3).has_value());
    return;
  }
  const auto trip = nl::core_round_trip(200, 3);
  REQUIRE(trip.has_value());
  REQUIRE(trip->cpu_a != trip->cpu_b);
  REQUIRE(CPU_ISSET(trip->cpu_a, &before));
  REQUIRE(CPU_ISSET(trip->cpu_b, &before));
  REQUIRE(trip->min_ns > 0.0);
  REQUIRE(trip->min_ns <= trip->median_ns);
  REQUIRE(trip->median_ns < 1e6);  // a round trip, not a scheduling delay of a millisecond
  cpu_set_t after;
  allowed_cpus(&after);
  REQUIRE(CPU_EQUAL(&before, &after));  // the caller is not left pinned to cpu_a
}

TEST_CASE("core_round_trip has nothing to measure on one CPU", "[core][timing]") {
  std::optional<nl::CoreRoundTrip> trip;
  {
    const OneCpuScope one_cpu;
    REQUIRE(one_cpu.pinned());
    trip = nl::core_round_trip(100, 3);
  }
  REQUIRE_FALSE(trip.has_value());
}
