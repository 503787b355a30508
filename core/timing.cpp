#include "core/timing.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include "core/threading.h"

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

namespace {

// Doubles the group until one group of calls lasts min_rep_ms (a single slow call is enough).
int64_t calibrate_group(const std::function<void()>& f, double min_rep_ms) {
  int64_t inner = 1;
  for (;;) {
    const double t0 = now_ms();
    for (int64_t i = 0; i < inner; ++i) f();
    if (now_ms() - t0 >= min_rep_ms || inner >= (int64_t{1} << 20)) return inner;
    inner *= 2;
  }
}

// One function's repetitions: wall time per call of each group, and the CPU time and page
// faults its groups took.
struct Samples {
  int64_t inner = 1;
  std::vector<double> per_call;
  double cpu_ms = 0;
  int64_t minflt = 0;
  int64_t inline_jobs = 0;

  void time_group(const std::function<void()>& f) {
    const double cpu0 = process_cpu_ms();
    const int64_t flt0 = minor_faults();
    const uint64_t inline0 = pool_inline_jobs();
    const double t0 = now_ms();
    for (int64_t i = 0; i < inner; ++i) f();
    per_call.push_back((now_ms() - t0) / static_cast<double>(inner));
    cpu_ms += process_cpu_ms() - cpu0;
    minflt += minor_faults() - flt0;
    inline_jobs += static_cast<int64_t>(pool_inline_jobs() - inline0);
  }

  TimingResult result() {
    TimingResult r;
    r.inner = inner;
    r.reps = static_cast<int>(per_call.size());
    const double calls = static_cast<double>(r.inner) * r.reps;
    r.cpu_ms = cpu_ms / calls;
    r.minflt = static_cast<double>(minflt) / calls;
    r.inline_jobs = inline_jobs;
    std::sort(per_call.begin(), per_call.end());
    r.min_ms = per_call.front();
    const size_t n = per_call.size();
    r.median_ms = n % 2 ? per_call[n / 2] : 0.5 * (per_call[n / 2 - 1] + per_call[n / 2]);
    return r;
  }
};

}  // namespace

TimingResult time_calls(const std::function<void()>& f, int reps, double min_rep_ms, int warmup) {
  for (int i = 0; i < std::max(1, warmup); ++i) f();
  Samples s;
  s.inner = calibrate_group(f, min_rep_ms);
  for (int k = 0; k < std::max(1, reps); ++k) s.time_group(f);
  return s.result();
}

std::pair<TimingResult, TimingResult> time_alternating(const std::function<void()>& f,
                                                       const std::function<void()>& g, int reps,
                                                       double min_rep_ms, int warmup) {
  for (int i = 0; i < std::max(1, warmup); ++i) {
    f();
    g();
  }
  Samples sf, sg;
  sf.inner = calibrate_group(f, min_rep_ms);
  sg.inner = calibrate_group(g, min_rep_ms);
  for (int k = 0; k < std::max(1, reps); ++k) {
    sf.time_group(f);
    sg.time_group(g);
  }
  return {sf.result(), sg.result()};
}

}  // namespace nl
