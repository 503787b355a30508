#include "train/steady_state.h"

#include <string>

#include "core/error.h"
#include "core/storage.h"
#include "core/timing.h"

namespace nl {

SteadyState measure_steady_state(const ReferenceWorkload& w, int64_t first_step,
                                 int64_t last_step) {
  if (first_step < 1 || last_step <= first_step)
    throw ValueError("steady state: need 1 <= first step < last step, got " +
                     std::to_string(first_step) + " and " + std::to_string(last_step));
  allocator_release_cache();  // the cache then holds this workload's blocks only
  WorkloadRunner runner(w);
  SteadyState s;
  s.first_step = first_step;
  s.last_step = last_step;
  for (int64_t i = 0; i < first_step; ++i) runner.step();
  s.rss_mb_first = resident_mb();
  const int64_t faults0 = minor_faults();
  const int64_t allocs0 = allocator_stats().system_allocs;
  for (int64_t i = first_step; i < last_step; ++i) runner.step();
  const double span = static_cast<double>(last_step - first_step);
  s.minflt_per_step = static_cast<double>(minor_faults() - faults0) / span;
  s.allocs_per_step = static_cast<double>(allocator_stats().system_allocs - allocs0) / span;
  s.rss_mb_last = resident_mb();
  s.cached_mb = static_cast<double>(allocator_stats().cached_bytes) / (1 << 20);
  return s;
}

}  // namespace nl
