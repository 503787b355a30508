// Timing helpers shared by the `normlab bench ...` commands.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

namespace nl::cli {

struct Timing {
  double best_ms = 0, median_ms = 0;
};

// Runs f once to warm up, then `reps` times; reports the best and the median in ms.
template <class F>
Timing time_it(F&& f, int reps = 20) {
  f();
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms.front(), ms[ms.size() / 2]};
}

}  // namespace nl::cli
