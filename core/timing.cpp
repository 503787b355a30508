#include "core/timing.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

namespace nl {
namespace {
double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

int64_t minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

double resident_mb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0.0;
  long size = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (got != 2) return 0.0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

TimingResult time_calls(const std::function<void()>& f, int reps, double min_rep_ms, int warmup) {
  for (int i = 0; i < std::max(1, warmup); ++i) f();
  TimingResult r;
  // Calibrate: double the group until one group lasts min_rep_ms (a single slow call is enough).
  for (;;) {
    const double t0 = now_ms();
    for (int64_t i = 0; i < r.inner; ++i) f();
    if (now_ms() - t0 >= min_rep_ms || r.inner >= (int64_t{1} << 20)) break;
    r.inner *= 2;
  }
  r.reps = std::max(1, reps);
  std::vector<double> per_call;
  const double cpu0 = process_cpu_ms();
  const int64_t flt0 = minor_faults();
  for (int k = 0; k < r.reps; ++k) {
    const double t0 = now_ms();
    for (int64_t i = 0; i < r.inner; ++i) f();
    per_call.push_back((now_ms() - t0) / static_cast<double>(r.inner));
  }
  const double calls = static_cast<double>(r.inner) * r.reps;
  r.cpu_ms = (process_cpu_ms() - cpu0) / calls;
  r.minflt = static_cast<double>(minor_faults() - flt0) / calls;
  std::sort(per_call.begin(), per_call.end());
  r.min_ms = per_call.front();
  const size_t n = per_call.size();
  r.median_ms = n % 2 ? per_call[n / 2] : 0.5 * (per_call[n / 2 - 1] + per_call[n / 2]);
  return r;
}

}  // namespace nl
