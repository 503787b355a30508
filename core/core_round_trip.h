// How far apart the first two CPUs this process may run on are: the time for one cache line to
// go from one to the other and back, two threads pinned one to each. On this project's 2-vCPU
// host a fresh process reads 60-150 ns most of the time, and 300-900 ns for stretches of seconds
// when the host places the two vCPUs far apart (one long ping-pong run: 52 -> 330-360 ns); a
// 2-thread training step then runs up to 2.7x slower while a 1-thread one does not move
// (docs/performance.md, "The 2-thread rows"). `normlab bench` reports it as `core_round_trip`,
// and scripts/bench-compare.py measures it around every 2-thread run, so that a row taken in
// such a stretch shows it.
#pragma once
#include <optional>

namespace nl {

struct CoreRoundTrip {
  int cpu_a = 0, cpu_b = 0;
  double median_ns = 0.0;  // of `batches` batches of `trips` round trips each (after one untimed)
  double min_ns = 0.0;
};

// std::nullopt when the process may use fewer than two CPUs. Spins both threads for the
// duration (~trips * (batches + 1) * 0.05-0.4 µs); restores the caller's CPU affinity.
std::optional<CoreRoundTrip> core_round_trip(int trips = 20000, int batches = 5);

}  // namespace nl
