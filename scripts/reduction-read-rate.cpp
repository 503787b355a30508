// How fast one thread reads an array from DRAM the way a norm kernel's reduction pass reads it
// (docs/performance-history.md, thirty-fourth round). No normlab code. Two measurements:
//
//   rows per sweep  an R x C array summed column-wise k rows at a time (k = 1, 4, 8, 16: k rows'
//                   loads in flight, each row its own stream for the hardware prefetchers), the
//                   caches flushed before each pass. On the Ice Lake host, 8192 x 1024: 10.5 /
//                   13.7 / 15.0 / 15.8 GB/s (another minute: 11.8 / 14.2 / 15.5 / 16.5); what
//                   made BatchNorm's statistics pass sum 16 rows a sweep (#88).
//   second read     an array of M MiB read once, then again at once, in order or in 128 KiB
//                   blocks last block first (on T threads, each its half): whether the last
//                   level cache keeps anything between two passes. On the Ice Lake host it kept
//                   little from 8 MiB up, at 1 and at 2 threads: the second read 3-12 % faster
//                   than the first, in either order (32 MiB at 2 threads: 1.08 -> 0.95 ms, where
//                   from L3 at its 44-58 GB/s it would take ~0.6), so a BatchNorm's second passes
//                   over 32 MiB rows find next to nothing of them there.
//
//   g++ -O2 -march=native -std=c++20 scripts/reduction-read-rate.cpp -o /tmp/read-rate -lpthread
//   /tmp/read-rate 8192 1024        (rows per sweep; COLS a multiple of 16, ROWS of 16)
//   /tmp/read-rate --again 32 2     (second read: MiB, threads)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

typedef float V __attribute__((vector_size(64)));

double now_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

float* array(int64_t n) {
  auto* p = static_cast<float*>(std::aligned_alloc(4096, static_cast<size_t>(n) * 4));
  for (int64_t i = 0; i < n; ++i) p[i] = 1.0f;
  return p;
}

volatile float g_sink;

// Sums of n floats from p, one 64-byte vector at a time.
void read_all(const float* p, int64_t n) {
  V s{};
  for (int64_t i = 0; i < n; i += 16) s += *reinterpret_cast<const V*>(p + i);
  g_sink = s[0];
}

// Column sums of an R x C array, K rows a sweep (acc: C floats).
template <int K>
void column_sums(const float* x, int64_t R, int64_t C, float* acc) {
  for (int64_t r = 0; r + K <= R; r += K)
    for (int64_t c = 0; c < C; c += 16) {
      V s = *reinterpret_cast<const V*>(acc + c);
      for (int i = 0; i < K; ++i) s += *reinterpret_cast<const V*>(x + (r + i) * C + c);
      *reinterpret_cast<V*>(acc + c) = s;
    }
}

int rows_per_sweep(int64_t R, int64_t C) {
  const int64_t n = R * C;
  float *x = array(n), *flush = array(3 * n), *acc = array(C);
  using Fn = void (*)(const float*, int64_t, int64_t, float*);
  const std::pair<int, Fn> variants[] = {
      {1, column_sums<1>}, {4, column_sums<4>}, {8, column_sums<8>}, {16, column_sums<16>}};
  std::vector<double> ms[4];
  for (int rep = 0; rep < 11; ++rep)
    for (int v = 0; v < 4; ++v) {
      read_all(flush, 3 * n);  // x out of the caches
      const double t0 = now_ms();
      variants[v].second(x, R, C, acc);
      ms[v].push_back(now_ms() - t0);
    }
  std::printf("%ldx%ld, 1 thread, caches flushed, median of 11:\n", static_cast<long>(R),
              static_cast<long>(C));
  for (int v = 0; v < 4; ++v) {
    const double t = median(ms[v]);
    std::printf("  %2d rows a sweep  %.3f ms  %.1f GB/s\n", variants[v].first, t,
                static_cast<double>(n) * 4 / (t * 1e6));
  }
  return 0;
}

int second_read(int64_t mib, int threads) {
  const int64_t n = mib << 18, block = 32 * 1024;  // floats; 128 KiB blocks
  float *a = array(n), *flush = array(3 * n);
  auto on_threads = [&](auto fn) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { fn(t); });
    for (auto& th : pool) th.join();
  };
  auto in_order = [&](int t) { read_all(a + t * n / threads, n / threads); };
  auto last_first = [&](int t) {
    const float* p = a + t * n / threads;
    for (int64_t b = n / threads / block - 1; b >= 0; --b) read_all(p + b * block, block);
  };
  std::vector<double> first, again[2];
  for (int rep = 0; rep < 15; ++rep)
    for (int order = 0; order < 2; ++order) {
      on_threads([&](int t) { read_all(flush + t * 3 * n / threads, 3 * n / threads); });
      const double t0 = now_ms();
      on_threads(in_order);
      const double t1 = now_ms();
      if (order == 0) on_threads(in_order);
      else on_threads(last_first);
      first.push_back(t1 - t0);
      again[order].push_back(now_ms() - t1);
    }
  std::printf("%ld MiB, %d thread(s), median of 15: first read %.2f ms (%.1f GB/s), again in "
              "order %.2f ms, again last block first %.2f ms\n",
              static_cast<long>(mib), threads, median(first),
              static_cast<double>(n) * 4 / (median(first) * 1e6), median(again[0]),
              median(again[1]));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--again") == 0) {
    const int64_t mib = std::atoll(argv[2]);
    const int threads = std::atoi(argv[3]);
    if (mib < 1 || threads < 1 || threads > 64) {
      std::fprintf(stderr, "--again MiB THREADS: MiB >= 1, THREADS 1-64\n");
      return 2;
    }
    return second_read(mib, threads);
  }
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s ROWS COLS | %s --again MiB THREADS\n", argv[0], argv[0]);
    return 2;
  }
  const int64_t R = std::atoll(argv[1]), C = std::atoll(argv[2]);
  if (R < 16 || R % 16 != 0 || C < 16 || C % 16 != 0) {
    std::fprintf(stderr, "ROWS a positive multiple of 16, COLS of 16\n");
    return 2;
  }
  return rows_per_sweep(R, C);
}
