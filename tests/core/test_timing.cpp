// time_calls: calibration, median/min, and the STREAM triad's record.
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

TEST_CASE("stream_triad moves its arrays and reports a positive time", "[core][timing]") {
  const nl::TimingResult t = nl::stream_triad(64 << 10, 2, 0.5);
  REQUIRE(t.median_ms > 0.0);
  REQUIRE(t.inner >= 1);
  REQUIRE(nl::resident_mb() > 0.0);
  REQUIRE(nl::minor_faults() > 0);
}
