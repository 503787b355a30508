// How close a two-pass BatchNorm fwd+bwd can come to the DRAM target of the speed issue (80 % of
// the counted floor: 5·R·C·4 bytes at the same-run STREAM triad rate) when nothing but its loads
// and stores run (docs/performance-history.md, ninth round). No normlab code. Per repetition, in
// turn:
//   triad  a = b + q·c with plain stores, as `normlab bench`'s stream_triad (the rate the floor
//          counts: 3 arrays, though the stores also read each line first);
//   rows   the four passes the maths needs, reduced to their memory traffic, over whole rows:
//          statistics (read x), apply (read x, stream y), gradient sums (read dy and x), dx
//          (read dy and x, stream dx): 8 array passes where the floor counts 5;
//   rows, plain stores  the same with y and dx written through the caches, as the kernels do
//          below the streaming size (16 MiB arrays when this was written, 8 MiB since the
//          twenty-third round: layers/kernels/norm_common.h), i.e. the bare pattern of the
//          8192x256 row as it then ran (docs/performance-history.md, tenth round);
//   slabs  the same four passes one column slab at a time (W columns of every row), so that
//          the second pass over a slab might find it in L3 instead of DRAM: 5 DRAM passes.
//   snake  the four passes over whole rows, the second passes (apply, dx) over chunks of rows
//          taken last chunk first, each chunk in order: they start on what the first pass
//          left in L3, and the prefetchers keep ascending streams (a whole pass taken last row
//          first lost them: docs/performance-history.md, twenty-fifth and -seventh rounds).
// Prints each variant's median and the counted floor's share of it (the benchmark's % floor).
//
//   g++ -O2 -march=native -std=c++20 scripts/batchnorm-pass-floor.cpp -o /tmp/bn-floor
//   /tmp/bn-floor 8192 1024 [reps=21]
//
// Needs AVX-512 (non-temporal 64-byte stores).
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

namespace {

typedef float V __attribute__((vector_size(64)));

V load(const float* p) { return *reinterpret_cast<const V*>(p); }
void store(float* p, V v) { *reinterpret_cast<V*>(p) = v; }
void stream(float* p, V v) { _mm512_stream_ps(p, reinterpret_cast<__m512&>(v)); }

float* array(int64_t n) {
  auto* p = static_cast<float*>(std::aligned_alloc(4096, static_cast<size_t>(n) * 4));
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(i % 1000) * 1e-3f;
  return p;
}

// The four passes over columns [c0, c1) of every row (row stride C), 4 rows per sweep in the
// reductions as the kernels do; acc, coef: per-column arrays.
template <bool kStream>
void two_pass(const float* x, float* y, const float* dy, float* dx, float* acc,
              const float* coef, int64_t R, int64_t C, int64_t c0, int64_t c1) {
  auto out = [](float* p, V v) {
    if constexpr (kStream) stream(p, v);
    else store(p, v);
  };
  for (int64_t r = 0; r + 4 <= R; r += 4)  // statistics
    for (int64_t c = c0; c < c1; c += 16) {
      const float* p = x + r * C + c;
      store(acc + c, load(acc + c) + load(p) + load(p + C) + load(p + 2 * C) + load(p + 3 * C));
    }
  for (int64_t r = 0; r < R; ++r)  // apply
    for (int64_t c = c0; c < c1; c += 16) out(y + r * C + c, load(x + r * C + c) * load(coef + c));
  for (int64_t r = 0; r + 4 <= R; r += 4)  // gradient sums
    for (int64_t c = c0; c < c1; c += 16) {
      V a = load(acc + c);
      for (int i = 0; i < 4; ++i) a += load(dy + (r + i) * C + c) * load(x + (r + i) * C + c);
      store(acc + c, a);
    }
  for (int64_t r = 0; r < R; ++r)  // dx
    for (int64_t c = c0; c < c1; c += 16)
      out(dx + r * C + c, load(dy + r * C + c) + load(x + r * C + c) * load(coef + c));
  if constexpr (kStream) _mm_sfence();
}


// The same four passes, the apply and dx passes over chunks of ch rows, last chunk first.
template <bool kStream>
void snake(const float* x, float* y, const float* dy, float* dx, float* acc,
           const float* coef, int64_t R, int64_t C, int64_t ch) {
  auto out = [](float* p, V v) {
    if constexpr (kStream) stream(p, v);
    else store(p, v);
  };
  for (int64_t r = 0; r + 4 <= R; r += 4)  // statistics
    for (int64_t c = 0; c < C; c += 16) {
      const float* p = x + r * C + c;
      store(acc + c, load(acc + c) + load(p) + load(p + C) + load(p + 2 * C) + load(p + 3 * C));
    }
  for (int64_t k = R / ch - 1; k >= 0; --k)  // apply
    for (int64_t r = k * ch; r < (k + 1) * ch; ++r)
      for (int64_t c = 0; c < C; c += 16) out(y + r * C + c, load(x + r * C + c) * load(coef + c));
  for (int64_t r = 0; r + 4 <= R; r += 4)  // gradient sums
    for (int64_t c = 0; c < C; c += 16) {
      V a = load(acc + c);
      for (int i = 0; i < 4; ++i) a += load(dy + (r + i) * C + c) * load(x + (r + i) * C + c);
      store(acc + c, a);
    }
  for (int64_t k = R / ch - 1; k >= 0; --k)  // dx
    for (int64_t r = k * ch; r < (k + 1) * ch; ++r)
      for (int64_t c = 0; c < C; c += 16)
        out(dx + r * C + c, load(dy + r * C + c) + load(x + r * C + c) * load(coef + c));
  if constexpr (kStream) _mm_sfence();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROWS COLS [reps=21]   (COLS a multiple of 16)\n", argv[0]);
    return 2;
  }
  const int64_t R = std::atoll(argv[1]), C = std::atoll(argv[2]);
  const int reps = argc > 3 ? std::atoi(argv[3]) : 21;
  if (R < 4 || C < 16 || C % 16 != 0) {
    std::fprintf(stderr, "ROWS >= 4 and COLS a positive multiple of 16\n");
    return 2;
  }
  const int64_t n = R * C;
  float *x = array(n), *y = array(n), *dy = array(n), *dx = array(n);
  float *acc = array(C), *coef = array(C);

  std::vector<std::pair<std::string, std::function<void()>>> variants;
  variants.push_back({"triad (plain stores)", [&] {
                        for (int64_t i = 0; i < n; i += 16) store(dx + i, load(x + i) + 0.5f * load(dy + i));
                      }});
  variants.push_back({"two-pass, whole rows", [&] { two_pass<true>(x, y, dy, dx, acc, coef, R, C, 0, C); }});
  variants.push_back({"whole rows, plain stores", [&] {
                        two_pass<false>(x, y, dy, dx, acc, coef, R, C, 0, C);
                      }});
  for (int64_t ch : {32, 128, 512, 2048})
    if (R % ch == 0)
      variants.push_back({"snake, chunks of " + std::to_string(ch), [&, ch] {
                            snake<true>(x, y, dy, dx, acc, coef, R, C, ch);
                          }});
  for (int64_t w : {512, 256, 128, 64})
    if (w < C && C % w == 0)
      variants.push_back({"two-pass, slabs of " + std::to_string(w), [&, w] {
                            for (int64_t c0 = 0; c0 < C; c0 += w)
                              two_pass<true>(x, y, dy, dx, acc, coef, R, C, c0, c0 + w);
                          }});

  std::vector<std::vector<double>> ms(variants.size());
  for (int rep = 0; rep < reps; ++rep)
    for (size_t v = 0; v < variants.size(); ++v) {
      const auto t0 = std::chrono::steady_clock::now();
      variants[v].second();
      ms[v].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  auto median = [](std::vector<double> t) {
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };
  const double mb = static_cast<double>(n) * 4 / 1e6;
  const double triad_gbps = 3 * mb / median(ms[0]);  // GB/s as the benchmark counts it
  const double floor_ms = 5 * mb / triad_gbps;
  std::printf("%ldx%ld, %d repetitions: triad %.1f GB/s (counted), counted floor %.3f ms\n",
              static_cast<long>(R), static_cast<long>(C), reps, triad_gbps, floor_ms);
  for (size_t v = 1; v < variants.size(); ++v) {
    const double t = median(ms[v]);
    std::printf("  %-26s %8.3f ms  %5.1f %% of the floor\n", variants[v].first.c_str(), t,
                100 * floor_ms / t);
  }
}
