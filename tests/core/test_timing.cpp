// time_calls and time_alternating: calibration, median/min, and the STREAM triad's record.
#include <string>
#include <thread>

#include "core/stream.h"
#include "core/timing.h"
#include "helpers.h"

TEST_CASE("time_calls groups calls until a repetition is long enough", "[core][timing]") {
  int calls = 0;
  const nl::TimingResult t = nl::time_calls([&] {
    ++calls;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }, 3, 2.0, 2);
  REQUIRE(t.reps == 3);
  REQUIRE((t.inner & (t.inner - 1)) == 0);  // doubled from 1 (a loaded machine may stop at 1)
  REQUIRE(t.inner <= 16);                     // 200 µs per call: 16 calls already exceed 2 ms
  REQUIRE(t.min_ms <= t.median_ms);
  REQUIRE(t.min_ms >= 0.2);
  // warm-up + calibration groups (1, 2, 4, ... inner) + timed repetitions
  REQUIRE(calls == 2 + (2 * t.inner - 1) + 3 * t.inner);
}

TEST_CASE("time_alternating times two functions group by group, each calibrated alone",
          "[core][timing]") {
  std::string order;  // which function ran, call by call
  auto slow = [&] {
    order += 's';
    std::this_thread::sleep_for(std::chrono::microseconds(300));
  };
  auto fast = [&] {
    order += 'f';
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  };
  const auto [s, f] = nl::time_alternating(slow, fast, 4, 1.0, 1);
  REQUIRE(s.reps == 4);
  REQUIRE(f.reps == 4);
  REQUIRE(s.min_ms >= 0.3);  // a sleep lasts at least its time
  REQUIRE(f.min_ms >= 0.05);
  REQUIRE(s.min_ms <= s.median_ms);
  REQUIRE(f.min_ms <= f.median_ms);
  REQUIRE(s.inner <= 4);  // 300 µs per call: 4 calls exceed 1 ms
  REQUIRE(f.inner <= 32);
  // warm-up (s, f), each calibrated alone (groups of 1, 2, 4, ...), then the timed groups
  // alternate, s's then f's, 4 times.
  std::string expected = "sf" + std::string(2 * s.inner - 1, 's') + std::string(2 * f.inner - 1, 'f');
  for (int rep = 0; rep < 4; ++rep)
    expected += std::string(s.inner, 's') + std::string(f.inner, 'f');
  REQUIRE(order == expected);
}

TEST_CASE("stream_triad moves its arrays and reports a positive time", "[core][timing]") {
  const nl::TimingResult t = nl::stream_triad(64 << 10, 2, 0.5);
  REQUIRE(t.median_ms > 0.0);
  REQUIRE(t.inner >= 1);
  REQUIRE(nl::resident_mb() > 0.0);
  REQUIRE(nl::minor_faults() > 0);
}
