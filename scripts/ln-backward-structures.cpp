// Where the LayerNorm backward's time goes at R x C beyond its memory traffic: the kernel's
// loop structure reduced to its loads, stores and arithmetic, next to a one-pass floor over
// the same arrays, alternated call by call on one core (docs/performance-history.md,
// twenty-first round). No normlab code.
//
//   g++ -O2 -march=native -std=c++20 scripts/ln-backward-structures.cpp -o /tmp/ln-bwd-structures
//   /tmp/ln-bwd-structures 8192 1024 [reps=30]
//
// Every call is preceded by an ordinary write of a y array, as the forward's is in fwd+bwd. The
// dgamma / dbeta partials sit 2048 bytes past the rows' page offset, as the kernel's Scratch puts
// them (no 4K aliasing with the rows). Needs AVX-512 (written with its intrinsics).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ln-backward-pattern.h"

namespace {

long R, C;
float *x, *dy, *dx, *g, *pdg, *pdb;

void prefetch_line(const float* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }

// The floor: dx = x + dy in one pass, streamed (the same three arrays, no second look at a row).
void one_pass_floor() {
  for (long i = 0; i < R * C; i += 16)
    _mm512_stream_ps(dx + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(dy + i)));
  _mm_sfence();
}

// The same passes with no arithmetic: pass 1 loads a pair of rows, pass 2 loads them again and
// streams dx; pass 2 asks for the next pair.
void bare_two_passes() {
  for (long r = 0; r < R; r += 2) {
    const float *xr = x + r * C, *dr = dy + r * C;
    __m512 s = _mm512_setzero_ps();
    for (long j = 0; j < 2 * C; j += 16)
      s = _mm512_add_ps(s, _mm512_add_ps(_mm512_loadu_ps(xr + j), _mm512_loadu_ps(dr + j)));
    const __m512 a = _mm512_set1_ps(_mm512_reduce_add_ps(s) * 1e-9f);
    const bool ahead = r + 2 < R;
    for (long j = 0; j < 2 * C; j += 16) {
      if (ahead) {
        prefetch_line(xr + 2 * C + j);
        prefetch_line(dr + 2 * C + j);
      }
      const __m512 v = _mm512_add_ps(_mm512_loadu_ps(xr + j), _mm512_loadu_ps(dr + j));
      _mm512_stream_ps(dx + r * C + j, _mm512_add_ps(a, v));
    }
  }
  _mm_sfence();
}

// The kernel's structure (layers/kernels/layernorm.cpp): pass 1 over a pair of rows computes the
// row sums and adds dy x / dy into the partials; pass 2, row by row from L1, streams dx and asks
// for the same row of the next pair.
void partials_in_pass1() {
  std::memset(pdg, 0, C * sizeof(float));
  std::memset(pdb, 0, C * sizeof(float));
  for (long r = 0; r < R; r += 2) {
    float a[2], b[2];
    ln_pattern::pass1(x + r * C, x + (r + 1) * C, dy + r * C, dy + (r + 1) * C, g, C, pdg, pdb, a,
                      b);
    const bool ahead = r + 2 < R;
    for (int i = 0; i < 2; ++i)
      ln_pattern::pass2(x + (r + i) * C, dy + (r + i) * C, g, C, a[i], b[i], dx + (r + i) * C,
                        true, ahead ? x + (r + 2 + i) * C : nullptr,
                        ahead ? dy + (r + 2 + i) * C : nullptr);
  }
  _mm_sfence();
}

// Every store in pass 2: pass 1 only loads and sums; pass 2 sweeps both rows at once, adds into
// the partials and streams both rows' dx. kSpread: pass 1 asks for the next pair's first row and
// pass 2 for its second (otherwise pass 2 asks for both).
template <bool kSpread>
void partials_in_pass2() {
  std::memset(pdg, 0, C * sizeof(float));
  std::memset(pdb, 0, C * sizeof(float));
  for (long r = 0; r < R; r += 2) {
    const float *x0 = x + r * C, *x1 = x0 + C, *d0 = dy + r * C, *d1 = d0 + C;
    const bool ahead = r + 2 < R;
    const float *nx = x + (r + 2) * C, *nd = dy + (r + 2) * C;
    __m512 sa0 = _mm512_setzero_ps(), sb0 = sa0, sa1 = sa0, sb1 = sa0;
    for (long j = 0; j < C; j += 16) {
      if (kSpread && ahead) {
        prefetch_line(nx + j);
        prefetch_line(nd + j);
      }
      const __m512 gv = _mm512_loadu_ps(g + j);
      const __m512 e0 = _mm512_mul_ps(_mm512_loadu_ps(d0 + j), gv);
      const __m512 e1 = _mm512_mul_ps(_mm512_loadu_ps(d1 + j), gv);
      sa0 = _mm512_add_ps(sa0, e0);
      sb0 = _mm512_fmadd_ps(e0, _mm512_loadu_ps(x0 + j), sb0);
      sa1 = _mm512_add_ps(sa1, e1);
      sb1 = _mm512_fmadd_ps(e1, _mm512_loadu_ps(x1 + j), sb1);
    }
    const __m512 va0 = _mm512_set1_ps(_mm512_reduce_add_ps(sa0) / C);
    const __m512 vb0 = _mm512_set1_ps(_mm512_reduce_add_ps(sb0) / C);
    const __m512 va1 = _mm512_set1_ps(_mm512_reduce_add_ps(sa1) / C);
    const __m512 vb1 = _mm512_set1_ps(_mm512_reduce_add_ps(sb1) / C);
    for (long j = 0; j < C; j += 16) {
      if (ahead) {
        if (!kSpread) {
          prefetch_line(nx + j);
          prefetch_line(nd + j);
        }
        prefetch_line(nx + C + j);
        prefetch_line(nd + C + j);
      }
      const __m512 gv = _mm512_loadu_ps(g + j);
      const __m512 xv0 = _mm512_loadu_ps(x0 + j), xv1 = _mm512_loadu_ps(x1 + j);
      const __m512 dv0 = _mm512_loadu_ps(d0 + j), dv1 = _mm512_loadu_ps(d1 + j);
      const __m512 pg = _mm512_fmadd_ps(dv1, xv1, _mm512_mul_ps(dv0, xv0));
      _mm512_storeu_ps(pdg + j, _mm512_add_ps(_mm512_loadu_ps(pdg + j), pg));
      _mm512_storeu_ps(pdb + j, _mm512_add_ps(_mm512_loadu_ps(pdb + j), _mm512_add_ps(dv0, dv1)));
      const __m512 v0 = _mm512_fnmadd_ps(xv0, vb0, _mm512_sub_ps(_mm512_mul_ps(dv0, gv), va0));
      const __m512 v1 = _mm512_fnmadd_ps(xv1, vb1, _mm512_sub_ps(_mm512_mul_ps(dv1, gv), va1));
      _mm512_stream_ps(dx + r * C + j, v0);
      _mm512_stream_ps(dx + (r + 1) * C + j, v1);
    }
  }
  _mm_sfence();
}

}  // namespace

int main(int argc, char** argv) {
  R = (argc > 1 ? std::atol(argv[1]) : 8192) & ~1L;
  C = (argc > 2 ? std::atol(argv[2]) : 1024) / 16 * 16;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 30;
  x = ln_pattern::alloc(R * C);
  dy = ln_pattern::alloc(R * C);
  dx = ln_pattern::alloc(R * C);
  float* y = ln_pattern::alloc(R * C);
  g = ln_pattern::alloc(C);
  pdg = ln_pattern::alloc(C + 1024) + 512;  // 2048 bytes past a page boundary
  pdb = ln_pattern::alloc(C + 1024) + 512;
  struct Variant {
    const char* name;
    void (*run)();
  };
  const Variant variants[] = {
      {"floor: dx = x + dy, one pass, streamed", one_pass_floor},
      {"two bare passes (loads, then loads + dx)", bare_two_passes},
      {"partials in pass 1 (the kernel's structure)", partials_in_pass1},
      {"partials in pass 2", partials_in_pass2<false>},
      {"partials in pass 2, next pair asked for in both", partials_in_pass2<true>}};
  const int n = sizeof(variants) / sizeof(variants[0]);
  std::vector<std::vector<double>> ms(n);
  for (int rep = -1; rep < reps; ++rep)
    for (int k = 0; k < n; ++k) {
      for (long i = 0; i < R * C; i += 16) _mm512_storeu_ps(y + i, _mm512_loadu_ps(x + i));
      const auto t0 = std::chrono::steady_clock::now();
      variants[k].run();
      const auto t1 = std::chrono::steady_clock::now();
      if (rep >= 0) ms[k].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
  std::printf("LayerNorm backward structures, %ld x %ld, 1 thread, %d calls each (after a y write)\n",
              R, C, reps);
  for (int k = 0; k < n; ++k) {
    std::sort(ms[k].begin(), ms[k].end());
    std::printf("  %-50s median %.3f ms  quartiles %.3f-%.3f\n", variants[k].name,
                ms[k][ms[k].size() / 2], ms[k][ms[k].size() / 4], ms[k][3 * ms[k].size() / 4]);
  }
}
