// The three measurements behind the pool workers' 1 ms spin, sgemm_pair and the rule that sends no
// GEMM to OpenBLAS's own threads (core/blas.cpp, core/threading.cpp; docs/performance-history.md,
// eleventh round), through normlab's own pool:
//   1. how long a pool worker takes to start a job, by how long the caller stayed away since
//      the previous one (spinning workers start at once; sleeping ones wait to be woken);
//   2. a Linear layer's backward products, dx = dy·W and dW += dyᵀ·x, at 2 threads: one after
//      the other (each split over both threads from 1 M multiply-adds on, as sgemm does) against
//      both at once, one per thread (a job every ~0.1 ms, so the worker is spinning);
//   3. one product on two threads, OpenBLAS's (its workers asleep between calls, as normlab sets
//      them) against the pool's split (two single-threaded calls), alternated call by call, on
//      the anchor shapes, the lm_ln step's Linear shapes and a few larger ones.
// Build and run (at 2 threads; each line is a median over 200, 2000 or 30-150 repetitions):
//   g++ -O2 -std=c++20 -I. scripts/pool-pair.cpp build/libnormlab.a -lopenblas -lz -lpthread -o /tmp/pool-pair
//   NORMLAB_THREADS=2 /tmp/pool-pair
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <utility>
#include <vector>

#include "core/blas.h"
#include "core/threading.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void wake_latency() {
  std::printf("1. pool worker start after the caller was away for G µs (median of 200 jobs)\n");
  for (int gap_us : {0, 20, 40, 100, 300, 1000, 2000, 3000}) {
    std::vector<double> start_us;
    for (int rep = 0; rep < 200; ++rep) {
      const auto until = Clock::now() + std::chrono::microseconds(gap_us);
      while (Clock::now() < until) {
      }
      std::atomic<long> started_ns{0};
      const auto t0 = Clock::now();
      nl::parallel_for(2, 1, [&](int64_t begin, int64_t) {
        if (begin == 1)
          started_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
      });
      start_us.push_back(started_ns / 1000.0);
    }
    std::printf("   G = %4d µs: the worker starts after %5.1f µs\n", gap_us, median(start_us));
  }
}

void linear_backward_pair() {
  std::printf("2. dx = dy·W and dW += dyᵀ·x (batch M, W of n x n) at 2 threads: in turn, each split\n"
              "   over both threads (as sgemm does from 1 M multiply-adds on), or at once (sgemm_pair)\n");
  const std::pair<int, int> shapes[] = {{16, 128}, {32, 128}, {64, 128}, {16, 256},
                                        {32, 256}, {64, 256}, {128, 256}};
  for (auto [M, n] : shapes) {
    std::vector<float> dy(M * n, 0.01f), w(n * n, 0.02f), x(M * n, 0.03f), dx(M * n), dw(n * n);
    const nl::GemmCall dx_call{false, false, M, n, n, 1.0f, dy.data(), w.data(), 0.0f, dx.data()};
    const nl::GemmCall dw_call{true, false, n, n, M, 1.0f, dy.data(), x.data(), 1.0f, dw.data()};
    std::vector<double> in_turn, at_once;
    for (int rep = 0; rep < 4000; ++rep) {  // alternated call by call
      const auto t0 = Clock::now();
      if (rep % 2 == 0) {
        nl::sgemm(dx_call);
        nl::sgemm(dw_call);
      } else {  // what sgemm_pair does from 1 M multiply-adds on, here at every size
        nl::choose_blas_threads(1, 1, 1);  // one OpenBLAS thread
        nl::parallel_for(2, 1, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) nl::sgemm(i == 0 ? dx_call : dw_call);
        });
      }
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      (rep % 2 == 0 ? in_turn : at_once).push_back(us);
    }
    const double a = median(in_turn), b = median(at_once);
    std::printf("   M = %3d, n = %3d (%.2f M multiply-adds each, %s): in turn %6.1f µs, at once %6.1f µs (%.2fx)\n",
                M, n, double(M) * n * n / (1 << 20),
                nl::split_gemm_parts(M, n, n) > 1 ? "split" : "not split", a, b, a / b);
  }
}

void openblas_threads_vs_pool_split() {
  std::printf("3. one product at 2 threads: OpenBLAS's threads vs the pool's split (GFLOP/s)\n");
  struct Shape {
    bool ta, tb;
    int M, N, K;
  };
  const Shape shapes[] = {{false, false, 256, 256, 256},   {false, false, 512, 512, 512},
                          {false, false, 2048, 128, 128},  {false, false, 2048, 512, 128},
                          {false, false, 2048, 128, 512},  {false, true, 2048, 384, 128},
                          {true, false, 384, 128, 2048},   {false, false, 2048, 128, 384},
                          {false, false, 64, 256, 784},    {false, false, 1024, 1024, 1024},
                          {false, false, 2048, 2048, 512}, {false, false, 4096, 64, 4096}};
  const double everything = 0.0, nothing = std::numeric_limits<double>::infinity();
  for (const Shape& s : shapes) {
    std::vector<float> A(size_t(s.M) * s.K, 0.5f), B(size_t(s.K) * s.N, 0.25f), C(size_t(s.M) * s.N);
    const double flop = 2.0 * s.M * s.N * s.K;
    const int reps = flop > 1e9 ? 30 : 150;
    std::vector<double> openblas_us, pool_us;
    for (int rep = 0; rep < 2 * reps; ++rep) {
      nl::set_threaded_gemm_min_work(rep % 2 == 0 ? everything : nothing);
      const auto t0 = Clock::now();
      nl::sgemm(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), B.data(), 0.0f, C.data());
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      (rep % 2 == 0 ? openblas_us : pool_us).push_back(us);
    }
    const double a = median(openblas_us), b = median(pool_us);
    std::printf("   %c%c %4dx%4dx%4d: OpenBLAS %6.1f, pool %6.1f (%.2fx)\n", s.ta ? 'T' : 'N',
                s.tb ? 'T' : 'N', s.M, s.N, s.K, flop / a / 1e3, flop / b / 1e3, a / b);
  }
  nl::set_threaded_gemm_min_work(nothing);
}

}  // namespace

int main() {
  if (nl::num_threads() != 2) {
    std::fprintf(stderr, "run it at 2 threads: NORMLAB_THREADS=2 /tmp/pool-pair\n");
    return 2;
  }
  wake_latency();
  linear_backward_pair();
  openblas_threads_vs_pool_split();
}
