// Portable 16-float vectors (GCC/Clang vector extensions) for kernels whose loops the
// auto-vectoriser handles badly: reductions over short rows, where the cost is the horizontal
// sum and the loop bookkeeping rather than the arithmetic. The compiler lowers a Vf16 to one
// AVX-512 register, two AVX registers or four SSE registers, whatever the build targets, so no
// intrinsics and no per-ISA code paths. Loads and stores are unaligned (memcpy). The one
// exception is store_stream (non-temporal stores have no portable spelling).
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

// Builds without AVX-512 note, at every call, that passing a 64-byte vector by value changes
// the ABI. These helpers are inline and never cross a library boundary, so the note does not
// apply; it is silenced for the files that include this header (the vector kernels only).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace nl::simd {

constexpr int kWidth = 16;
typedef float Vf16 __attribute__((vector_size(64)));
typedef float Vf8 __attribute__((vector_size(32)));
typedef float Vf4 __attribute__((vector_size(16)));
// What a comparison of two Vf16 gives: per lane -1 (true) or 0 (false).
typedef int32_t Vi16 __attribute__((vector_size(64)));

inline Vf16 load(const float* p) {
  Vf16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, const Vf16& v) { std::memcpy(p, &v, sizeof v); }
// All lanes s: one broadcast (0 + s would cost an add first, and turn -0 into +0).
inline Vf16 splat(float s) { return Vf16{s, s, s, s, s, s, s, s, s, s, s, s, s, s, s, s}; }

// A store that bypasses the caches: no read-for-ownership of the destination line, and the
// output does not evict what the next loads need. Only for outputs far larger than the caches
// (the next reader would miss them anyway). p must be 64-byte aligned. Builds without AVX fall
// back to an ordinary store. Call stream_fence() before another thread reads the data.
inline void store_stream(float* p, const Vf16& v) {
#if defined(__AVX512F__)
  _mm512_stream_ps(p, reinterpret_cast<const __m512&>(v));
#elif defined(__AVX__)
  const Vf8 lo = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  const Vf8 hi = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  _mm256_stream_ps(p, reinterpret_cast<const __m256&>(lo));
  _mm256_stream_ps(p + 8, reinterpret_cast<const __m256&>(hi));
#else
  store(p, v);
#endif
}
inline void stream_fence() {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

// Asks for the 64-byte line at p ahead of its use (a hint; never faults).
inline void prefetch(const float* p) { __builtin_prefetch(p, 0, 3); }

// The same into L2 only (prefetcht1), for lines wanted further ahead than L1 can hold them: at a
// row length of 1024 floats every row starts at the same L1 set, so lines asked for rows ahead
// into L1 evict the rows being read (the norm kernels' streamed loops, thirty-first round).
inline void prefetch_l2(const float* p) { __builtin_prefetch(p, 0, 2); }

// Whether any lane of a comparison result is true.
inline bool any(const Vi16& m) {
  int32_t bits = 0;
  for (int i = 0; i < kWidth; ++i) bits |= m[i];
  return bits != 0;
}

// The sum of the 16 lanes in a fixed tree order (halves added lane-wise, 16 → 8 → 4 → 2 → 1):
// the same bits on every run, every thread count and every vector width the build targets.
inline float hsum(const Vf16& v) {
  const Vf8 s8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                 __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const Vf4 s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}

}  // namespace nl::simd
