// The two measurements behind core/blas.cpp's and core/threading.cpp's GEMM dispatch rules
// (docs/performance-history.md, "Third round"), with OpenBLAS alone (no normlab code):
//   1. when a second OpenBLAS thread pays off (1 vs 2 threads, with the short worker spin
//      timeout normlab sets), by shape;
//   2. when a product with few rows is faster as one sgemv per row than as one sgemm;
//   3. the eight products of an `mlp` training step (batch 64, 784-256-256-10) back to back,
//      1 vs 2 threads, with OpenBLAS's workers sleeping between calls (normlab's setting) and
//      spinning (OpenBLAS's default, PyTorch's): the most a second core could give that step
//      when every operand is already in both cores' caches, and with the operands rewritten by
//      the calling core before each step, as the optimizer and the element-wise ops do
//      (docs/performance-history.md, tenth round).
// Build and run (a quiet machine; each line of 1-2 is the median of 7 repetitions, of 3 the
// median of 201 steps):
//   g++ -O2 -std=c++17 scripts/gemm-shapes.cpp -lopenblas -o /tmp/gemm-shapes && /tmp/gemm-shapes
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

extern "C" {
void openblas_read_env(void);
int blas_thread_shutdown_(void);
}

namespace {

// Median time of one call of f in microseconds (7 repetitions of enough calls for ~20 ms).
template <class F>
double median_us(F f) {
  f();
  auto t0 = std::chrono::steady_clock::now();
  f();
  const double once = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  const int calls = std::max(5, static_cast<int>(20000.0 / std::max(once, 0.1)));
  std::vector<double> reps;
  for (int r = 0; r < 7; ++r) {
    t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) f();
    reps.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / calls);
  }
  std::sort(reps.begin(), reps.end());
  return reps[3];
}

struct Shape {
  int M, N, K;
  bool ta, tb;
};

// C = op(A) op(B), row-major, beta = 0.
void gemm(const Shape& s, const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c) {
  cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.M, s.N, s.K,
              1.0f, a.data(), s.ta ? s.M : s.K, b.data(), s.tb ? s.K : s.N, 0.0f, c.data(), s.N);
}

// The same product as one sgemv per row of op(A) (ta = false only).
void rows_as_gemv(const Shape& s, const std::vector<float>& a, const std::vector<float>& b, std::vector<float>& c) {
  for (int i = 0; i < s.M; ++i) {
    if (s.tb)
      cblas_sgemv(CblasRowMajor, CblasNoTrans, s.N, s.K, 1.0f, b.data(), s.K, a.data() + i * s.K, 1, 0.0f,
                  c.data() + i * s.N, 1);
    else
      cblas_sgemv(CblasRowMajor, CblasTrans, s.K, s.N, 1.0f, b.data(), s.N, a.data() + i * s.K, 1, 0.0f,
                  c.data() + i * s.N, 1);
  }
}

}  // namespace

int main() {
  // As normlab does when it starts (core/threading.cpp): OpenBLAS's workers sleep at once.
  setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
  openblas_read_env();
  blas_thread_shutdown_();

  std::printf("1. one vs two OpenBLAS threads\n");
  const Shape threaded[] = {{4, 256, 784, false, true},   {256, 784, 4, true, false},  {4, 256, 256, false, true},
                            {32, 256, 256, false, true},  {256, 256, 32, true, false}, {64, 256, 256, false, true},
                            {256, 256, 64, true, false},  {128, 128, 128, false, false}, {128, 256, 256, false, true},
                            {256, 256, 128, true, false}, {512, 512, 32, true, false}, {64, 256, 784, false, true},
                            {256, 784, 64, true, false},  {256, 256, 256, false, false}, {2048, 128, 128, false, true}};
  for (const Shape& s : threaded) {
    std::vector<float> a(static_cast<size_t>(s.M) * s.K, 0.5f), b(static_cast<size_t>(s.K) * s.N, 0.25f),
        c(static_cast<size_t>(s.M) * s.N);
    openblas_set_num_threads(1);
    const double t1 = median_us([&] { gemm(s, a, b, c); });
    openblas_set_num_threads(2);
    const double t2 = median_us([&] { gemm(s, a, b, c); });
    std::printf("  %4dx%4dx%4d ta=%d tb=%d  M*N*K %9.0f  1 thread %8.2f us  2 threads %8.2f us  speed-up %.2f\n", s.M,
                s.N, s.K, s.ta, s.tb, static_cast<double>(s.M) * s.N * s.K, t1, t2, t1 / t2);
  }

  std::printf("2. few rows: one sgemm vs one sgemv per row (1 thread)\n");
  openblas_set_num_threads(1);
  const Shape few[] = {{4, 256, 784, false, true},  {4, 784, 256, false, false}, {4, 256, 256, false, true},
                       {4, 256, 256, false, false}, {4, 10, 256, false, true},   {4, 256, 10, false, false},
                       {2, 256, 784, false, true},  {4, 512, 512, false, true},  {4, 1024, 1024, false, false},
                       {6, 256, 256, false, true},  {8, 256, 256, false, true}};
  for (const Shape& s : few) {
    std::vector<float> a(static_cast<size_t>(s.M) * s.K, 0.1f), b(static_cast<size_t>(s.K) * s.N, 0.01f),
        c(static_cast<size_t>(s.M) * s.N);
    const double t_gemm = median_us([&] { gemm(s, a, b, c); });
    const double t_gemv = median_us([&] { rows_as_gemv(s, a, b, c); });
    std::printf("  %dx%4dx%4d tb=%d  sgemm %8.2f us  sgemv per row %8.2f us  speed-up %.2f\n", s.M, s.N, s.K, s.tb,
                t_gemm, t_gemv, t_gemm / t_gemv);
  }

  std::printf("3. the mlp step's eight products back to back, 1 vs 2 threads\n");
  const Shape mlp[] = {{64, 256, 784, false, true},  {64, 256, 256, false, true}, {64, 10, 256, false, true},
                       {10, 256, 64, true, false},   {64, 256, 10, false, false}, {256, 256, 64, true, false},
                       {64, 256, 256, false, false}, {256, 784, 64, true, false}};
  std::vector<float> a(784 * 256, 0.5f), b(784 * 256, 0.25f), c(784 * 256);
  auto step = [&] {
    for (const Shape& s : mlp) gemm(s, a, b, c);
  };
  auto rewrite = [&] {  // as the optimizer and the element-wise ops do, on the calling core
    for (size_t i = 0; i < a.size(); ++i) a[i] += 1e-7f, b[i] += 1e-7f;
  };
  // Median of 201 steps, each timed alone, after an untimed rewrite of the operands or not.
  auto step_us = [&](bool rewritten) {
    std::vector<double> t;
    for (int r = 0; r < 201; ++r) {
      if (rewritten) rewrite();
      const auto t0 = std::chrono::steady_clock::now();
      step();
      t.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[100];
  };
  for (const char* timeout : {"4", "28"}) {  // 2^4 cycles (sleep at once), 2^28 (OpenBLAS's default)
    setenv("OPENBLAS_THREAD_TIMEOUT", timeout, 1);
    openblas_read_env();
    blas_thread_shutdown_();
    openblas_set_num_threads(1);
    const double t1 = step_us(false), t1w = step_us(true);
    openblas_set_num_threads(2);
    const double t2 = step_us(false), t2w = step_us(true);
    std::printf("  workers %-8s  1 thread %7.1f us  2 threads %7.1f us  speed-up %.2f   operands rewritten"
                " first: %7.1f / %7.1f us, %.2f\n",
                timeout[0] == '4' ? "sleeping" : "spinning", t1, t2, t1 / t2, t1w, t2w, t1w / t2w);
  }
  return 0;
}
