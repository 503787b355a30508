#include "core/core_round_trip.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

namespace nl {
namespace {

bool pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace

std::optional<CoreRoundTrip> core_round_trip(int trips, int batches) {
  cpu_set_t allowed;
  if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) != 0) return std::nullopt;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2 || trips < 1 || batches < 1) return std::nullopt;

  // The line both threads bounce: the caller writes an odd value, the echo thread answers with
  // the next even one. On the heap, alone in its page: on the caller's stack, beside variables
  // the caller keeps writing, the same trip read 110-135 ns where a lone line reads 80-100.
  struct alignas(4096) Line {
    std::atomic<long> value{0};
    char pad[4096 - sizeof(std::atomic<long>)];
  };
  const auto owned = std::make_unique<Line>();
  Line& line = *owned;
  // One batch first, untimed: a core that was idle answers slowly for its first ~0.1 ms.
  const long total = static_cast<long>(trips) * (batches + 1);
  // By value: nothing the echo thread reads shares a line with the caller's own variables.
  std::thread echo([&line, total, cpu = cpus[1]] {
    pin_to(cpu);
    for (long i = 0; i < total; ++i) {
      while (line.value.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      line.value.store(2 * i + 2, std::memory_order_release);
    }
  });
  pin_to(cpus[0]);
  std::vector<double> per_trip;
  long i = 0;
  for (int b = 0; b <= batches; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < trips; ++k, ++i) {
      line.value.store(2 * i + 1, std::memory_order_release);
      while (line.value.load(std::memory_order_acquire) != 2 * i + 2) {
      }
    }
    if (b > 0)
      per_trip.push_back(
          std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / trips);
  }
  echo.join();
  pthread_setaffinity_np(pthread_self(), sizeof allowed, &allowed);
  std::sort(per_trip.begin(), per_trip.end());
  return CoreRoundTrip{cpus[0], cpus[1], per_trip[per_trip.size() / 2], per_trip.front()};
}

}  // namespace nl
