/* Every cblas_sgemm call of a process, grouped by shape: calls, total and median time, and the
 * GFLOP/s of the median call. An LD_PRELOAD shim in front of OpenBLAS (no normlab code); the
 * table goes to stderr when the process exits, largest total first. Medians, because the first
 * calls of a run (page faults on fresh buffers) inflate the totals.
 *
 *   gcc -O2 -shared -fPIC scripts/gemm-trace.c -o /tmp/gemm-trace.so -ldl
 *   LD_PRELOAD=/tmp/gemm-trace.so build/bin/normlab --threads 1 bench --json --filter 'step/lm_ln$'
 *
 * PyTorch calls the Fortran sgemm_ of libblas.so.3 (OpenBLAS on Debian), traced too, so the
 * two frameworks' BLAS time can be set side by side:
 *   LD_PRELOAD=/tmp/gemm-trace.so /usr/bin/python3 scripts/torch_peer.py --config t1 \
 *       --filter 'step/lm_ln$'
 *
 * Columns: transposes (row-major, as normlab calls them; "f" before them: a Fortran sgemm_
 * call, column-major), M N K, lda ldb ldc, beta 0 or not. docs/performance-history.md (sixth and
 * ninth rounds) reads lm_ln with it. Not thread-safe: trace 1 thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float*, int, const float*,
                         int, float, float*, int);
typedef void (*fortran_sgemm_fn)(const char*, const char*, const int*, const int*, const int*,
                                 const float*, const float*, const int*, const float*,
                                 const int*, const float*, float*, const int*);

enum { kMaxShapes = 512, kMaxSamples = 1 << 18 };

struct Shape {
  int fortran, trans_a, trans_b, m, n, k, lda, ldb, ldc, beta_nonzero;
  long calls;
  double total_s;
  float* samples; /* the first kMaxSamples call times, seconds */
};

static sgemm_fn real_sgemm;
static fortran_sgemm_fn real_fortran_sgemm;
static struct Shape shapes[kMaxShapes];
static int n_shapes;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int by_time(const void* a, const void* b) {
  const float x = *(const float*)a, y = *(const float*)b;
  return (x > y) - (x < y);
}

static int by_total_desc(const void* a, const void* b) {
  const double x = ((const struct Shape*)a)->total_s, y = ((const struct Shape*)b)->total_s;
  return (x < y) - (x > y);
}

static void report(void) {
  double all = 0;
  for (int i = 0; i < n_shapes; ++i) all += shapes[i].total_s;
  qsort(shapes, (size_t)n_shapes, sizeof shapes[0], by_total_desc);
  fprintf(stderr, "%-3s %5s %5s %5s %5s %5s %5s %4s %8s %10s %6s %11s %8s\n", "op", "M", "N", "K",
          "lda", "ldb", "ldc", "beta", "calls", "total ms", "share", "median us", "GFLOP/s");
  for (int i = 0; i < n_shapes; ++i) {
    struct Shape* s = &shapes[i];
    const long kept = s->calls < kMaxSamples ? s->calls : kMaxSamples;
    qsort(s->samples, (size_t)kept, sizeof(float), by_time);
    const double median = s->samples[kept / 2];
    fprintf(stderr, "%s%c%c %5d %5d %5d %5d %5d %5d %4s %8ld %10.1f %5.1f%% %11.2f %8.1f\n",
            s->fortran ? "f" : " ", s->trans_a == 112 ? 'T' : 'N', s->trans_b == 112 ? 'T' : 'N', s->m, s->n, s->k,
            s->lda, s->ldb, s->ldc, s->beta_nonzero ? "1" : "0", s->calls, s->total_s * 1e3,
            100.0 * s->total_s / all, median * 1e6, 2.0 * s->m * s->n * (double)s->k / median / 1e9);
  }
  fprintf(stderr, "all sgemm calls: %.1f ms\n", all * 1e3);
}

static void record(int fortran, int trans_a, int trans_b, int m, int n, int k, int lda, int ldb,
                   int ldc, float beta, double dt) {
  const int beta_nonzero = beta != 0.0f;
  int i = 0;
  for (; i < n_shapes; ++i) {
    const struct Shape* s = &shapes[i];
    if (s->fortran == fortran && s->trans_a == trans_a && s->trans_b == trans_b && s->m == m &&
        s->n == n && s->k == k && s->lda == lda && s->ldb == ldb && s->ldc == ldc &&
        s->beta_nonzero == beta_nonzero)
      break;
  }
  if (i == n_shapes) {
    if (n_shapes == kMaxShapes) return; /* table full: later new shapes are not traced */
    struct Shape s = {fortran, trans_a, trans_b, m, n, k, lda, ldb, ldc, beta_nonzero, 0, 0.0, NULL};
    s.samples = malloc(sizeof(float) * kMaxSamples);
    if (!s.samples) return;
    shapes[n_shapes++] = s;
  }
  struct Shape* s = &shapes[i];
  if (s->calls < kMaxSamples) s->samples[s->calls] = (float)dt;
  s->calls++;
  s->total_s += dt;
}

void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc) {
  if (!real_sgemm) {
    real_sgemm = (sgemm_fn)dlsym(RTLD_NEXT, "cblas_sgemm");
    atexit(report);
  }
  const double t0 = now_s();
  real_sgemm(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record(0, trans_a, trans_b, m, n, k, lda, ldb, ldc, beta, now_s() - t0);
}

/* A Fortran transpose flag ('N', 'T' or 'C', either case) as CBLAS's enum value (111, 112). */
static int cblas_trans(char flag) {
  return (flag == 'T' || flag == 't' || flag == 'C' || flag == 'c') ? 112 : 111;
}

void sgemm_(const char* trans_a, const char* trans_b, const int* m, const int* n, const int* k,
            const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
            const float* beta, float* c, const int* ldc) {
  if (!real_fortran_sgemm) {
    /* Not found after this library when the caller's BLAS was dlopen'ed locally (Python
     * extensions are): ask for libblas.so.3 by name. */
    real_fortran_sgemm = (fortran_sgemm_fn)dlsym(RTLD_NEXT, "sgemm_");
    if (!real_fortran_sgemm) {
      void* blas = dlopen("libblas.so.3", RTLD_NOW);
      if (blas) real_fortran_sgemm = (fortran_sgemm_fn)dlsym(blas, "sgemm_");
    }
    if (!real_fortran_sgemm) {
      fprintf(stderr, "gemm-trace: no sgemm_ to forward to\n");
      abort();
    }
    atexit(report);
  }
  const double t0 = now_s();
  real_fortran_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  record(1, cblas_trans(*trans_a), cblas_trans(*trans_b), *m, *n, *k, *lda, *ldb, *ldc, *beta,
         now_s() - t0);
}
