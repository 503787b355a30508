// Benchmark timing shared by `normlab bench` and its JSON mode: warm-up, calls grouped so one
// repetition lasts long enough for the clock, median and minimum over repetitions, plus the
// process's CPU time, minor page faults and resident memory (steady-state checks).
#pragma once
#include <cstdint>
#include <functional>
#include <utility>

namespace nl {

struct TimingResult {
  double median_ms = 0;  // per call, median over repetitions
  double min_ms = 0;     // per call, fastest repetition
  double cpu_ms = 0;     // process CPU time per call (all threads)
  double minflt = 0;     // minor page faults per call (0 in a steady state)
  // Pool jobs run on the caller alone, its threads found taking turns (pool_inline_jobs,
  // core/threading.h), over all calls: a 2-thread timing with any ran partly on one thread.
  int64_t inline_jobs = 0;
  int64_t inner = 1;     // calls per repetition
  int reps = 0;
};

// Runs f `warmup` times, then picks `inner` (powers of 2) so one repetition of inner calls
// lasts >= min_rep_ms, then times `reps` repetitions.
TimingResult time_calls(const std::function<void()>& f, int reps, double min_rep_ms,
                        int warmup = 1);

// Two functions timed group by group in alternation (f's group, then g's, `reps` times), so a
// slow stretch of a shared host slows both: their ratio holds where two separate runs' would
// not. Each is warmed up and calibrated as by time_calls.
std::pair<TimingResult, TimingResult> time_alternating(const std::function<void()>& f,
                                                       const std::function<void()>& g, int reps,
                                                       double min_rep_ms, int warmup = 1);

double process_cpu_ms();      // CPU time of the whole process, ms
int64_t minor_faults();       // minor page faults of the process so far
double resident_mb();         // current RSS in MiB (from /proc/self/statm; 0 if unavailable)

}  // namespace nl
