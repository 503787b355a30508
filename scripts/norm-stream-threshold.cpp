// Whether streaming a norm's outputs past the caches pays once the next op reads them: one
// thread times LayerNorm and BatchNorm forward -> a reader of y -> backward -> a reader of dx,
// the kernels and the readers separately (median of 60). Run it with and without streaming
// (the threshold is read once per process) and compare the totals (docs/performance-history.md,
// seventh round; layers/kernels/norm_common.h, stream_min_bytes):
//
//   g++ -O3 -march=native -std=c++20 -I. scripts/norm-stream-threshold.cpp build/libnormlab.a \
//       -lopenblas -lz -lpthread -o /tmp/norm-stream-threshold
//   NORMLAB_STREAM_MIB=0 /tmp/norm-stream-threshold 8192 256    # never streamed
//   NORMLAB_STREAM_MIB=1 /tmp/norm-stream-threshold 8192 256    # streamed (outputs >= 1 MiB; 1 thread)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/normlab.h"
#include "core/simd.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/layernorm.h"

using namespace nl;

namespace {

// The next op, reduced to reading its input once at full speed (16-float vectors, four sums).
float read_all(const float* p, int64_t n) {
  simd::Vf16 a{}, b{}, c{}, d{};
  int64_t i = 0;
  for (; i + 4 * simd::kWidth <= n; i += 4 * simd::kWidth) {
    a += simd::load(p + i);
    b += simd::load(p + i + simd::kWidth);
    c += simd::load(p + i + 2 * simd::kWidth);
    d += simd::load(p + i + 3 * simd::kWidth);
  }
  float s = simd::hsum((a + b) + (c + d));
  for (; i < n; ++i) s += p[i];
  return s;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s R C\n", argv[0]);
    return 2;
  }
  const int64_t R = std::atol(argv[1]), C = std::atol(argv[2]);
  set_num_threads(1);
  Rng rng(0);
  Tensor x = Tensor::normal({R, C}, 0.0f, 1.0f, rng), dy = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
  Tensor y = Tensor::empty({R, C}), dx = Tensor::empty({R, C});
  std::vector<float> g(C, 1.1f), b(C, 0.1f), dg(C), db(C), rows(3 * R), chans(4 * C);
  kernels::NormGrads grads;
  grads.dx = dx.data();
  grads.dgamma = dg.data();
  grads.dbeta = db.data();
  std::printf("%lld x %lld, streamed: %s\n", static_cast<long long>(R), static_cast<long long>(C),
              kernels::stream_output(y.data(), R, C) ? "yes" : "no");
  volatile float sink = 0.0f;
  for (const char* op : {"LayerNorm", "BatchNorm"}) {
    const bool ln = op[0] == 'L';
    float *m = rows.data(), *lo = m + R, *rs = lo + R;
    float *cm = chans.data(), *clo = cm + C, *cv = clo + C, *crs = cv + C;
    std::vector<double> kernel_ms, reader_ms;
    for (int rep = 0; rep < 61; ++rep) {
      auto t = std::chrono::steady_clock::now();
      if (ln) {
        kernels::layernorm_forward(x.data(), g.data(), b.data(), R, C, 1, 1e-5f, y.data(), m, lo, rs);
      } else {
        kernels::batchnorm_stats(x.data(), nullptr, R, C, 1e-5f, cm, clo, cv, crs);
        kernels::batchnorm_apply(x.data(), nullptr, g.data(), b.data(), cm, clo, crs, R, C, y.data());
      }
      double k = ms_since(t);
      t = std::chrono::steady_clock::now();
      sink = sink + read_all(y.data(), R * C);
      double r = ms_since(t);
      t = std::chrono::steady_clock::now();
      if (ln)
        kernels::layernorm_backward(dy.data(), x.data(), g.data(), m, lo, rs, R, C, 1, grads);
      else
        kernels::batchnorm_backward(dy.data(), x.data(), nullptr, g.data(), cm, clo, crs, R, C, R,
                                    true, grads);
      k += ms_since(t);
      t = std::chrono::steady_clock::now();
      sink = sink + read_all(dx.data(), R * C);
      r += ms_since(t);
      if (rep > 0) {  // the first call warms the buffers
        kernel_ms.push_back(k);
        reader_ms.push_back(r);
      }
    }
    std::sort(kernel_ms.begin(), kernel_ms.end());
    std::sort(reader_ms.begin(), reader_ms.end());
    const double km = kernel_ms[kernel_ms.size() / 2], rm = reader_ms[reader_ms.size() / 2];
    std::printf("  %-9s kernels %.3f ms + readers %.3f ms = %.3f ms\n", op, km, rm, km + rm);
  }
}
