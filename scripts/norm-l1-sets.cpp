// Why the norm kernels' streamed loops at C = 1024 keep their L1 sets apart (docs/performance-
// history.md, thirty-first round). No normlab code: the BatchNorm passes reduced to their loads,
// arithmetic and stores, over arrays laid out as normlab's allocator lays out tensors (2 MiB
// aligned, transparent huge pages). A row of 1024 floats is exactly 4 KiB, the period of L1's
// set index, so column j of every row of x, dy and dx falls in the same L1 set. Variants,
// alternated repetition by repetition:
//   dx, 4 coefficient arrays at one offset  dx = p dy + q - s (x - m) one row per sweep, with
//        p, q, s, m 4 KiB apart (Scratch before the thirty-first round): 6 lines of one set per
//        vector, beside the streamed rows;
//   dx, 4 arrays a quarter page apart  the same with 1 KiB more between arrays (Scratch now);
//   dx, 3 arrays (mean folded into q)  dx = p dy + q - s x, the kernel's form since #81 where
//        every channel's |mean| <= its std (thirty-second round);
//   dx, 1 coefficient array  the same traffic with one per-channel array: the floor;
//   dx, 4 rows per sweep  the coefficients loaded once for 4 rows (the kernel before; 4 KiB-
//        aliased rows: 8 lines of x and dy in one set, plus the coefficients');
//   apply, 1 and 4 rows per sweep  y = (x - m) a + b, streamed;
//   sums, 4 rows per sweep  Σ dy and Σ dy (x - m) per channel, rows prefetched 8 KiB ahead into
//        L1 (the kernel before: two rows on, the same sets as the rows being read), 64 KiB ahead
//        into L2 (now), or not at all.
// Prints each variant's median.
//
//   g++ -O2 -march=native -std=c++20 scripts/norm-l1-sets.cpp -o /tmp/norm-l1-sets
//   /tmp/norm-l1-sets 8192 1024 [reps=15]
//
// Needs AVX-512 (non-temporal 64-byte stores).
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

typedef float V __attribute__((vector_size(64)));

V load(const float* p) { return *reinterpret_cast<const V*>(p); }
void store(float* p, V v) { *reinterpret_cast<V*>(p) = v; }
void stream(float* p, V v) { _mm512_stream_ps(p, reinterpret_cast<__m512&>(v)); }

// n floats on a 2 MiB boundary, offered as huge pages, filled.
float* array(int64_t n) {
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = (static_cast<size_t>(n) * 4 + kHuge - 1) / kHuge * kHuge;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, bytes) != 0) std::abort();
  madvise(p, bytes, MADV_HUGEPAGE);
  auto* f = static_cast<float*>(p);
  for (int64_t i = 0; i < n; ++i) f[i] = static_cast<float>((i * 7919) % 1000) * 1e-3f;
  return f;
}

// dx = p dy + q - s (x - m), kRows rows per sweep, streamed.
template <int kRows>
__attribute__((noinline)) void dx_pass(const float* dy, const float* x, float* dx,
                                       const float* const (&k)[4], int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; r += kRows)
    for (int64_t c = 0; c < C; c += 16) {
      const V p = load(k[0] + c), q = load(k[1] + c), s = load(k[2] + c), m = load(k[3] + c);
      for (int i = 0; i < kRows; ++i) {
        const int64_t at = (r + i) * C + c;
        stream(dx + at, p * load(dy + at) + q - s * (load(x + at) - m));
      }
    }
  _mm_sfence();
}

// dx = p dy + q - s x, the mean folded into q (the kernel's form where every |mean| <= std,
// #81): three per-channel arrays, a quarter page apart.
__attribute__((noinline)) void dx_folded(const float* dy, const float* x, float* dx,
                                         const float* const (&k)[4], int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; c += 16) {
      const int64_t at = r * C + c;
      stream(dx + at,
             load(k[0] + c) * load(dy + at) + load(k[1] + c) - load(k[2] + c) * load(x + at));
    }
  _mm_sfence();
}

// The same traffic with one per-channel array.
__attribute__((noinline)) void dx_one_coefficient(const float* dy, const float* x, float* dx,
                                                  const float* p, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; c += 16) {
      const int64_t at = r * C + c;
      stream(dx + at, load(dy + at) + load(x + at) * load(p + c));
    }
  _mm_sfence();
}

// y = (x - m) a + b, kRows rows per sweep, streamed.
template <int kRows>
__attribute__((noinline)) void apply_pass(const float* x, float* y, const float* a,
                                          const float* b, const float* m, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; r += kRows)
    for (int64_t c = 0; c < C; c += 16) {
      const V va = load(a + c), vb = load(b + c), vm = load(m + c);
      for (int i = 0; i < kRows; ++i)
        stream(y + (r + i) * C + c, (load(x + (r + i) * C + c) - vm) * va + vb);
    }
  _mm_sfence();
}

// Σ dy and Σ dy (x - m) per channel, 4 rows per sweep; each sweep's rows asked for `ahead`
// floats on (0: none) with locality kHint (3: L1, 2: L2).
template <int kHint>
__attribute__((noinline)) void sums_pass(const float* dy, const float* x, const float* m,
                                         float* ady, float* adx, int64_t R, int64_t C,
                                         int64_t ahead) {
  const int64_t total = R * C;
  for (int64_t r = 0; r + 4 <= R; r += 4) {
    const int64_t at0 = r * C;
    const bool pf = ahead > 0 && at0 + 4 * C + ahead <= total;
    for (int64_t c = 0; c < C; c += 16) {
      if (pf)
        for (int i = 0; i < 4; ++i) {
          __builtin_prefetch(dy + at0 + i * C + ahead + c, 0, kHint);
          __builtin_prefetch(x + at0 + i * C + ahead + c, 0, kHint);
        }
      const V vm = load(m + c);
      V a1 = load(dy + at0 + c), a2 = a1 * (load(x + at0 + c) - vm);
      for (int i = 1; i < 4; ++i) {
        const V d = load(dy + at0 + i * C + c);
        a1 += d;
        a2 += d * (load(x + at0 + i * C + c) - vm);
      }
      store(ady + c, load(ady + c) + a1);
      store(adx + c, load(adx + c) + a2);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROWS COLS [reps=15]   (COLS a multiple of 256)\n", argv[0]);
    return 2;
  }
  const int64_t R = std::atoll(argv[1]), C = std::atoll(argv[2]);
  const int reps = argc > 3 ? std::atoi(argv[3]) : 15;
  if (R < 8 || R % 4 != 0 || C < 256 || C % 256 != 0) {
    std::fprintf(stderr, "ROWS a multiple of 4 (>= 8), COLS a multiple of 256\n");
    return 2;
  }
  const int64_t n = R * C;
  float *x = array(n), *dy = array(n), *y = array(n), *dx = array(n);
  // Per-channel arrays: 4 at one 4 KiB offset (C floats apart, C a multiple of 1024 gives the
  // same offset; other C as the stride falls), then 4 a quarter page further apart each.
  float* coef = array(16 * C + 4096);
  const float* same[4] = {coef, coef + C, coef + 2 * C, coef + 3 * C};
  float* spaced_base = coef + 4 * C;
  const float* spaced[4] = {spaced_base, spaced_base + (C + 256), spaced_base + 2 * (C + 256),
                            spaced_base + 3 * (C + 256)};
  float* acc = coef + 9 * C + 2048;  // ady, adx
  const float* m = coef + 11 * C + 2048 + 512;

  std::vector<std::pair<std::string, std::function<void()>>> v;
  v.push_back({"dx, 4 coefficient arrays at one offset", [&] { dx_pass<1>(dy, x, dx, same, R, C); }});
  v.push_back({"dx, 4 arrays a quarter page apart", [&] { dx_pass<1>(dy, x, dx, spaced, R, C); }});
  v.push_back({"dx, 3 arrays (mean folded into q)", [&] { dx_folded(dy, x, dx, spaced, R, C); }});
  v.push_back({"dx, 1 coefficient array", [&] { dx_one_coefficient(dy, x, dx, spaced[0], R, C); }});
  v.push_back({"dx, 4 rows per sweep", [&] { dx_pass<4>(dy, x, dx, spaced, R, C); }});
  v.push_back({"apply, 1 row per sweep",
               [&] { apply_pass<1>(x, y, spaced[0], spaced[1], spaced[2], R, C); }});
  v.push_back({"apply, 4 rows per sweep",
               [&] { apply_pass<4>(x, y, spaced[0], spaced[1], spaced[2], R, C); }});
  v.push_back({"sums, 8 KiB ahead into L1",
               [&] { sums_pass<3>(dy, x, m, acc, acc + C + 256, R, C, 8192 / 4); }});
  v.push_back({"sums, 64 KiB ahead into L2",
               [&] { sums_pass<2>(dy, x, m, acc, acc + C + 256, R, C, 65536 / 4); }});
  v.push_back({"sums, no prefetch", [&] { sums_pass<2>(dy, x, m, acc, acc + C + 256, R, C, 0); }});

  std::vector<std::vector<double>> ms(v.size());
  for (int rep = 0; rep < reps; ++rep)
    for (size_t k = 0; k < v.size(); ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      v[k].second();
      ms[k].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  std::printf("%ldx%ld, %d repetitions, medians:\n", static_cast<long>(R), static_cast<long>(C),
              reps);
  for (size_t k = 0; k < v.size(); ++k) {
    std::sort(ms[k].begin(), ms[k].end());
    std::printf("  %-40s %7.3f ms\n", v[k].first.c_str(), ms[k][ms[k].size() / 2]);
  }
}
