// Whether a training step runs in a steady state: after a warm-up, the same memory every step
// (no growth of the resident set, no page faults, no allocation from the system). Behind
// `normlab bench models --memory`, which prints it for every reference workload at steps 100
// and 1000 (docs/performance-history.md, the sixth round's "Steady state" table).
#pragma once
#include <cstdint>

#include "train/workloads.h"

namespace nl {

struct SteadyState {
  int64_t first_step = 0, last_step = 0;  // the two checkpoints (1-based step numbers)
  double rss_mb_first = 0, rss_mb_last = 0;  // resident set after those steps, MiB
  double minflt_per_step = 0;   // minor page faults per step between the checkpoints
  double allocs_per_step = 0;   // caching-allocator requests to the system per step, same span
  double cached_mb = 0;         // what the caching allocator holds at the end (this workload), MiB
};

// Empties the caching allocator, runs `last_step` training steps of w (first_step <
// last_step) and reads the process's counters after step first_step and after step last_step.
// The counters are process-wide: the resident set also holds what earlier work in the process
// left with the C library (run one workload alone for its own absolute RSS); the steady-state
// criterion is the difference between the two checkpoints.
SteadyState measure_steady_state(const ReferenceWorkload& w, int64_t first_step,
                                 int64_t last_step);

}  // namespace nl
