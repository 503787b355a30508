// The LayerNorm backward's memory pattern at R x C, four ways, alternated call by call on one
// core (docs/performance-history.md, seventh round). No normlab code: each variant is the kernel's
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
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "ln-backward-pattern.h"

using ln_pattern::alloc;
using ln_pattern::pass1;
using ln_pattern::pass2;

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
