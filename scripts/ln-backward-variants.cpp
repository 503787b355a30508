// The LayerNorm backward's memory pattern at R x C, four ways, alternated call by call on one
// core (docs/performance.md, seventh round). No normlab code: each variant is the kernel's
// shape reduced to its loads and stores (pass 1 over two rows: the row sums and the dgamma /
// dbeta partials; pass 2 per row: dx from L1), so only the store path and the prefetches differ.
//
//   g++ -O2 -march=native -std=c++20 scripts/ln-backward-variants.cpp -o /tmp/ln-bwd-variants -lpthread
//   /tmp/ln-bwd-variants 8192 1024 [reps=40] [dirty=1] [threads=1]
//
// dirty = 1 writes a y array (ordinary stores) before every call, as the forward does before
// the backward in fwd+bwd: the backward then also pays for those dirty lines' write-back.
// threads = 2 splits the rows in two halves, one per thread, as normlab's pool does.
// Needs AVX-512 (the streaming store and the 16-float loads are written with its intrinsics).
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

float* alloc(size_t n) {  // 2 MiB-aligned, huge pages advised (as normlab's Storage does)
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
void pass1(const float* x0, const float* x1, const float* d0, const float* d1, const float* g,
           long C, float* pdg, float* pdb, float* a, float* b) {
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
void pass2(const float* x, const float* d, const float* g, long C, float a, float b, float* dx,
           bool stream, const float* next_x, const float* next_dy) {
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s R C [reps=40] [dirty=1] [threads=1]\n", argv[0]);
    return 2;
  }
  const long R = std::atol(argv[1]) & ~1L, C = std::atol(argv[2]) / 16 * 16;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 40;
  const bool dirty = argc > 4 ? std::atoi(argv[4]) != 0 : true;
  const int threads = argc > 5 && std::atoi(argv[5]) == 2 ? 2 : 1;
  float *x = alloc(R * C), *dy = alloc(R * C), *dx = alloc(R * C), *y = alloc(R * C);
  float* g = alloc(C);
  float* partials[2][2] = {{alloc(C), alloc(C)}, {alloc(C), alloc(C)}};  // [thread][dgamma|dbeta]

  struct Variant {
    const char* name;
    bool stream, prefetch;
  };
  const Variant variants[] = {{"ordinary stores (the kernel before)", false, false},
                              {"streamed dx", true, false},
                              {"prefetch next rows in pass 2", false, true},
                              {"streamed dx + prefetch (the kernel now)", true, true}};
  // Rows [r0, r1) (even bounds) with thread t's partials.
  auto backward_rows = [&](const Variant& v, long r0, long r1, int t) {
    float *pdg = partials[t][0], *pdb = partials[t][1];
    std::memset(pdg, 0, C * sizeof(float));
    std::memset(pdb, 0, C * sizeof(float));
    for (long r = r0; r < r1; r += 2) {
      float a[2], b[2];
      pass1(x + r * C, x + (r + 1) * C, dy + r * C, dy + (r + 1) * C, g, C, pdg, pdb, a, b);
      for (int i = 0; i < 2; ++i) {
        const bool ahead = v.prefetch && r + 2 < r1;
        pass2(x + (r + i) * C, dy + (r + i) * C, g, C, a[i], b[i], dx + (r + i) * C, v.stream,
              ahead ? x + (r + 2 + i) * C : nullptr, ahead ? dy + (r + 2 + i) * C : nullptr);
      }
    }
    _mm_sfence();
  };
  auto copy_rows = [&](long r0, long r1) {  // dx = x + dy: the same arrays, one pass, no arithmetic
    for (long i = r0 * C; i < r1 * C; i += 16)
      _mm512_storeu_ps(dx + i, _mm512_add_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(dy + i)));
  };
  auto split = [&](auto&& fn) {  // fn(r0, r1, t) over the rows, on `threads` threads
    if (threads == 1) return fn(0L, R, 0);
    const long half = R / 4 * 2;
    std::thread other([&] { fn(half, R, 1); });
    fn(0L, half, 0);
    other.join();
  };
  auto backward = [&](const Variant& v) {
    split([&](long r0, long r1, int t) { backward_rows(v, r0, r1, t); });
  };
  auto copy_floor = [&] { split([&](long r0, long r1, int) { copy_rows(r0, r1); }); };
  auto write_y = [&] {
    for (long i = 0; i < R * C; i += 16) _mm512_storeu_ps(y + i, _mm512_loadu_ps(x + i));
  };

  const int n = 5;
  std::vector<std::vector<double>> ms(n);
  for (int rep = -1; rep < reps; ++rep)
    for (int k = 0; k < n; ++k) {
      if (dirty) write_y();
      const auto t0 = std::chrono::steady_clock::now();
      if (k < 4) backward(variants[k]);
      else copy_floor();
      const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (rep >= 0) ms[k].push_back(t);
    }
  std::printf("LayerNorm backward pattern, %ld x %ld, %d thread(s), %d calls each%s\n", R, C,
              threads, reps, dirty ? " (after a y write)" : "");
  for (int k = 0; k < n; ++k) {
    std::sort(ms[k].begin(), ms[k].end());
    std::printf("  %-42s median %.3f ms  min %.3f ms\n",
                k < 4 ? variants[k].name : "floor: dx = x + dy, one pass", ms[k][ms[k].size() / 2],
                ms[k][0]);
  }
}
