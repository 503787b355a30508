// Denormal floats flushed to zero in this thread for a scope (x86's MXCSR: FTZ writes a denormal
// result as 0, DAZ reads a denormal input as 0), the previous mode restored after.
//
// Why: on Intel cores every multiply or add that reads or writes a denormal takes a microcode
// assist, ~100 cycles. An optimizer's moments decay geometrically wherever a gradient stays 0
// (Adam's m by beta1 = 0.9 a step: below FLT_MIN after ~800 steps), and from then on its update
// loop ran 3x slower: the batch-4 MLP step 0.28 -> 0.90 ms on the Ice Lake host after 500-1000
// steps (docs/performance.md, thirty-third round). AMD cores take no such penalty. A moment
// below 1.2e-38 moves no parameter (lr·m/(√v + eps) with eps ≥ 1e-8 is far under a float's last
// bit for any |p| above ~1e-25), so flushing it costs nothing a training run can see.
// Elsewhere than x86 the scope does nothing.
#pragma once

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define NL_HAS_MXCSR 1
#endif

namespace nl {

class FlushDenormalsScope {
 public:
#ifdef NL_HAS_MXCSR
  FlushDenormalsScope() : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero); }
  ~FlushDenormalsScope() { _mm_setcsr(saved_); }
#else
  FlushDenormalsScope() = default;
#endif
  FlushDenormalsScope(const FlushDenormalsScope&) = delete;
  FlushDenormalsScope& operator=(const FlushDenormalsScope&) = delete;

 private:
#ifdef NL_HAS_MXCSR
  static constexpr unsigned kFlushToZero = 0x8000;      // MXCSR bit 15
  static constexpr unsigned kDenormalsAreZero = 0x0040;  // MXCSR bit 6
  unsigned saved_;
#endif
};

}  // namespace nl
