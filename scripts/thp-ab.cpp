// Paired in-process A/B behind core/storage.cpp's huge-page rule: the LayerNorm and BatchNorm
// fwd+bwd kernels and a triad on buffers the kernel may back with transparent huge pages (madvise
// MADV_HUGEPAGE) against buffers it may not (MADV_NOHUGEPAGE), the two alternated call by call (who
// goes first swaps every round), so the host's drift hits both alike. Prints the medians and the
// median per-pair speedup with its quartiles (docs/performance-history.md, sixth round).
//   g++ -O3 -march=native -std=c++20 -I. scripts/thp-ab.cpp build/libnormlab.a
//       -lopenblas -lz -lpthread -o /tmp/thp-ab  (one line)
//   NORMLAB_THREADS=1 /tmp/thp-ab 8192 1024 40
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/normlab.h"
#include "layers/kernels/layernorm.h"
#include "layers/kernels/batchnorm.h"
using namespace nl;
static float* buf(size_t n, bool huge) {
  size_t bytes = (n * 4 + (2u << 20) - 1) / (2u << 20) * (2u << 20);
  void* p = nullptr;
  if (posix_memalign(&p, 2u << 20, bytes) != 0) {
    std::perror("posix_memalign");
    std::exit(1);
  }
  madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  float* f = (float*)p;
  for (size_t i = 0; i < n; ++i) f[i] = ((i * 7919) % 1000) * 1e-3f - 0.5f;
  return f;
}
struct Set { float *x, *y, *dy, *dx; };
int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: thp-ab ROWS COLS [ROUNDS]\n");
    return 2;
  }
  const int64_t R = atol(argv[1]), C = atol(argv[2]);
  const int rounds = argc > 3 ? atoi(argv[3]) : 40;
  Set s[2];
  for (int h = 0; h < 2; ++h) s[h] = {buf(R * C, h), buf(R * C, h), buf(R * C, h), buf(R * C, h)};
  std::vector<float> g(C, 1.1f), b(C, 0.1f), dg(C), db(C), m(R), lo(R), rs(R), cm(C), clo(C), cv(C), crs(C);
  auto ln = [&](Set& z) {
    kernels::layernorm_forward(z.x, g.data(), b.data(), R, C, 1, 1e-5f, z.y, m.data(), lo.data(), rs.data());
    kernels::NormGrads gr; gr.dx = z.dx; gr.dgamma = dg.data(); gr.dbeta = db.data();
    kernels::layernorm_backward(z.dy, z.x, g.data(), m.data(), lo.data(), rs.data(), R, C, 1, gr);
  };
  auto bn = [&](Set& z) {
    kernels::batchnorm_stats(z.x, nullptr, R, C, 1e-5f, cm.data(), clo.data(), cv.data(), crs.data());
    kernels::batchnorm_apply(z.x, nullptr, g.data(), b.data(), cm.data(), clo.data(), crs.data(), R, C, z.y);
    kernels::NormGrads gr; gr.dx = z.dx; gr.dgamma = dg.data(); gr.dbeta = db.data();
    kernels::batchnorm_backward(z.dy, z.x, nullptr, g.data(), cm.data(), clo.data(), crs.data(), R, C, R, true, gr);
  };
  auto triad = [&](Set& z) { const int64_t n = R * C; for (int64_t i = 0; i < n; ++i) z.x[i] = z.y[i] + 0.5f * z.dy[i]; };
  const char* names[3] = {"layernorm fwd+bwd", "batchnorm fwd+bwd", "triad x=y+q*dy"};
  for (int k = 0; k < 3; ++k) {
    std::vector<double> t[2], ratio;
    for (int r = 0; r < rounds; ++r) {
      double dt[2];
      for (int j = 0; j < 2; ++j) {
        const int h = (r % 2) ? 1 - j : j;  // alternate who goes first
        auto t0 = std::chrono::steady_clock::now();
        if (k == 0) ln(s[h]); else if (k == 1) bn(s[h]); else triad(s[h]);
        dt[h] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      }
      if (r >= 2) { t[0].push_back(dt[0]); t[1].push_back(dt[1]); ratio.push_back(dt[0] / dt[1]); }
    }
    for (auto* v : {&t[0], &t[1], &ratio}) std::sort(v->begin(), v->end());
    const size_t n = ratio.size();
    printf("%dx%d %-18s 4K %.3f ms  THP %.3f ms  speedup median %.3f (quartiles %.3f-%.3f)\n", (int)R, (int)C, names[k], t[0][n / 2], t[1][n / 2], ratio[n / 2], ratio[n / 4], ratio[3 * n / 4]);
  }
}
