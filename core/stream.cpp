#include "core/stream.h"

#include <vector>

#include "core/storage.h"
#include "core/threading.h"

namespace nl {

TimingResult stream_triad(int64_t bytes_per_array, int reps, double min_rep_ms) {
  const int64_t n = bytes_per_array / static_cast<int64_t>(sizeof(float));
  Storage sa(n), sb(n), sc(n);
  float* a = sa.data();
  float* b = sb.data();
  float* c = sc.data();
  // First touch in the same chunks the triad uses (pages land near their thread).
  parallel_for(n, 1 << 14, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) a[i] = 0.0f, b[i] = 1.0f, c[i] = 2.0f;
  });
  const float q = 0.5f;
  return time_calls([&] {
    parallel_for(n, 1 << 14, [&](int64_t s, int64_t e) {
      float* __restrict pa = a;
      const float* __restrict pb = b;
      const float* __restrict pc = c;
      for (int64_t i = s; i < e; ++i) pa[i] = pb[i] + q * pc[i];
    });
  }, reps, min_rep_ms, 3);
}

}  // namespace nl
