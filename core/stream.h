// The memory-bandwidth ceiling for the benchmarks: a STREAM-style triad a[i] = b[i] + q·c[i]
// (McCalpin's STREAM benchmark convention: 3 arrays × n × 4 bytes moved per pass, write-
// allocate traffic not counted), run over normlab's own thread pool so it uses the same
// threads as the kernels it is compared with.
#pragma once
#include <cstdint>

#include "core/timing.h"

namespace nl {

// Times the triad over three float arrays of `bytes_per_array` bytes each; returns the per-pass
// timing. GB/s = 3 * bytes_per_array / time.
TimingResult stream_triad(int64_t bytes_per_array, int reps, double min_rep_ms);

}  // namespace nl
