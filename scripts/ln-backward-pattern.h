// The LayerNorm backward's row loop reduced to its loads and stores, shared by
// scripts/ln-backward-variants.cpp (stores and prefetches) and scripts/scratch-placement.cpp
// (where the partials sit). No normlab code. Needs AVX-512 (written with its intrinsics).
#pragma once
#include <immintrin.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>

namespace ln_pattern {

inline float* alloc(size_t n) {  // 2 MiB-aligned, huge pages advised (as normlab's Storage does)
  const size_t huge = size_t{2} << 20;
  const size_t bytes = (n * sizeof(float) + huge - 1) / huge * huge;
  void* p = nullptr;
  if (posix_memalign(&p, huge, bytes) != 0) std::abort();
  madvise(p, bytes, MADV_HUGEPAGE);
  float* f = static_cast<float*>(p);
  for (size_t i = 0; i < n; ++i) f[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f - 0.5f;
  return f;
}

// Pass 1 over rows x0/x1, d0/d1: a = mean(dy g), b = mean(dy g x) per row, partials += dy x, dy.
inline void pass1(const float* x0, const float* x1, const float* d0, const float* d1,
                  const float* g, long C, float* pdg, float* pdb, float* a, float* b) {
  __m512 sa0 = _mm512_setzero_ps(), sb0 = sa0, sa1 = sa0, sb1 = sa0;
  for (long j = 0; j < C; j += 16) {
    const __m512 xv0 = _mm512_loadu_ps(x0 + j), xv1 = _mm512_loadu_ps(x1 + j);
    const __m512 dv0 = _mm512_loadu_ps(d0 + j), dv1 = _mm512_loadu_ps(d1 + j);
    const __m512 gv = _mm512_loadu_ps(g + j);
    const __m512 e0 = _mm512_mul_ps(dv0, gv), e1 = _mm512_mul_ps(dv1, gv);
    sa0 = _mm512_add_ps(sa0, e0);
    sb0 = _mm512_fmadd_ps(e0, xv0, sb0);
    sa1 = _mm512_add_ps(sa1, e1);
    sb1 = _mm512_fmadd_ps(e1, xv1, sb1);
    const __m512 pg = _mm512_fmadd_ps(dv1, xv1, _mm512_mul_ps(dv0, xv0));
    _mm512_storeu_ps(pdg + j, _mm512_add_ps(_mm512_loadu_ps(pdg + j), pg));
    _mm512_storeu_ps(pdb + j, _mm512_add_ps(_mm512_loadu_ps(pdb + j), _mm512_add_ps(dv0, dv1)));
  }
  a[0] = _mm512_reduce_add_ps(sa0) / C;
  b[0] = _mm512_reduce_add_ps(sb0) / C;
  a[1] = _mm512_reduce_add_ps(sa1) / C;
  b[1] = _mm512_reduce_add_ps(sb1) / C;
}

// Pass 2 of one row: dx = dy g - a - x b, stored or streamed; next_x / next_dy (or null)
// prefetched one line per vector.
inline void pass2(const float* x, const float* d, const float* g, long C, float a, float b,
                  float* dx, bool stream, const float* next_x, const float* next_dy) {
  const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
  for (long j = 0; j < C; j += 16) {
    if (next_x) {
      _mm_prefetch(reinterpret_cast<const char*>(next_x + j), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(next_dy + j), _MM_HINT_T0);
    }
    const __m512 e = _mm512_mul_ps(_mm512_loadu_ps(d + j), _mm512_loadu_ps(g + j));
    const __m512 v = _mm512_fnmadd_ps(_mm512_loadu_ps(x + j), vb, _mm512_sub_ps(e, va));
    if (stream) _mm512_stream_ps(dx + j, v);
    else _mm512_storeu_ps(dx + j, v);
  }
}

}  // namespace ln_pattern
