// Where a BatchNorm forward + backward spends its time above its memory traffic, in one process,
// alternated call by call (docs/performance-history.md, tenth round). Per repetition, in turn:
//   framework  batch_norm() + backward() through autograd, as `normlab bench` times
//              batchnorm_fwdbwd/RxC (fresh gradients each call);
//   kernels    the four kernels called directly: statistics, apply, gradient sums, dx;
//   kernels with one pass bare  the same sequence with one kernel replaced by its bare memory
//              pattern (the loads and plain stores of that pass, no arithmetic beyond one
//              multiply-add): what that kernel costs above its traffic, in the real order;
//   bare       all four passes bare (scripts/batchnorm-pass-floor.cpp's "plain stores" rows).
// Each timed call follows an untimed call of the same variant. Prints the median and minimum of
// each.
//
//   g++ -O3 -march=native -std=c++20 -I. scripts/batchnorm-pass-costs.cpp build/libnormlab.a -lopenblas -lz -lpthread -o /tmp/bn-costs
//   NORMLAB_THREADS=1 /tmp/bn-costs 8192 256 [reps=60]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "core/normlab.h"
#include "core/simd.h"
#include "layers/kernels/batchnorm.h"

namespace {

using namespace nl;
using simd::Vf16;

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s ROWS COLS [reps=60]   (COLS a multiple of 16, ROWS of 4)\n", argv[0]);
    return 2;
  }
  const int64_t R = std::atoll(argv[1]), C = std::atoll(argv[2]);
  const int reps = argc > 3 ? std::atoi(argv[3]) : 60;
  if (R < 4 || R % 4 != 0 || C < 16 || C % 16 != 0) {
    std::fprintf(stderr, "ROWS a positive multiple of 4, COLS a positive multiple of 16\n");
    return 2;
  }
  Rng rng(0);
  Tensor x = Tensor::normal({R, C}, 0.0f, 1.0f, rng).requires_grad_();
  Tensor dy = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
  Tensor w = Tensor::uniform({C}, 0.5f, 1.5f, rng).requires_grad_();
  Tensor b = Tensor::uniform({C}, -0.5f, 0.5f, rng).requires_grad_();
  Tensor running_mean = Tensor::zeros({C}), running_var = Tensor::ones({C});
  Tensor y = Tensor::zeros({R, C}), dx = Tensor::zeros({R, C});
  std::vector<float> mean(C), mean_lo(C), var(C), rstd(C), dgamma(C), dbeta(C), acc(2 * C);
  std::vector<double> sums(2 * C);
  const float *px = x.data(), *pdy = dy.data(), *g = w.data(), *beta = b.data();
  float *py = y.data(), *pdx = dx.data(), *a = acc.data();

  // The kernels, as batch_norm() and its backward call them.
  auto stats = [&] {
    kernels::batchnorm_stats(px, nullptr, R, C, 1e-5f, mean.data(), mean_lo.data(), var.data(), rstd.data());
  };
  auto apply = [&] {
    kernels::batchnorm_apply(px, nullptr, g, beta, mean.data(), mean_lo.data(), rstd.data(), R, C, py);
  };
  auto grad_sums = [&] {
    kernels::batchnorm_grad_sums(pdy, px, nullptr, mean.data(), mean_lo.data(), R, C, sums.data());
  };
  auto dx_pass = [&] {
    kernels::NormGrads grads;
    grads.dx = pdx;
    grads.dgamma = dgamma.data();
    grads.dbeta = dbeta.data();
    kernels::batchnorm_backward_finish(pdy, px, nullptr, g, mean.data(), mean_lo.data(), rstd.data(), R, C,
                                       sums.data(), sums.data(), R, true, grads);
  };
  // The bare patterns: the reductions in sweeps of 4 rows as the kernels do, the outputs row by row.
  auto bare_stats = [&] {
    std::fill(a, a + C, 0.0f);
    for (int64_t r = 0; r < R; r += 4)
      for (int64_t c = 0; c < C; c += 16) {
        const float* p = px + r * C + c;
        simd::store(a + c, simd::load(a + c) + simd::load(p) + simd::load(p + C) + simd::load(p + 2 * C) +
                               simd::load(p + 3 * C));
      }
  };
  auto bare_apply = [&] {
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; c += 16)
        simd::store(py + r * C + c, simd::load(px + r * C + c) * simd::load(g + c));
  };
  auto bare_grad_sums = [&] {
    std::fill(a, a + 2 * C, 0.0f);
    for (int64_t r = 0; r < R; r += 4)
      for (int64_t c = 0; c < C; c += 16) {
        Vf16 s1 = simd::load(a + c), s2 = simd::load(a + C + c);
        for (int i = 0; i < 4; ++i) {
          const Vf16 d = simd::load(pdy + (r + i) * C + c);
          s1 += d;
          s2 += d * simd::load(px + (r + i) * C + c);
        }
        simd::store(a + c, s1);
        simd::store(a + C + c, s2);
      }
  };
  auto bare_dx = [&] {
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; c += 16)
        simd::store(pdx + r * C + c,
                    simd::load(pdy + r * C + c) + simd::load(px + r * C + c) * simd::load(g + c));
  };
  // Variant v: bit k set = pass k bare.
  auto sequence = [&](unsigned bare) {
    (bare & 1) ? bare_stats() : stats();
    (bare & 2) ? bare_apply() : apply();
    (bare & 4) ? bare_grad_sums() : grad_sums();
    (bare & 8) ? bare_dx() : dx_pass();
  };
  std::vector<std::pair<std::string, std::function<void()>>> variants = {
      {"framework (bench call)", [&] {
         x.zero_grad();
         w.zero_grad();
         b.zero_grad();
         batch_norm(x, Tensor(), w, b, running_mean, running_var, true).backward(dy);
       }},
      {"kernels", [&] { sequence(0); }},
      {"kernels, statistics bare", [&] { sequence(1); }},
      {"kernels, apply bare", [&] { sequence(2); }},
      {"kernels, gradient sums bare", [&] { sequence(4); }},
      {"kernels, dx bare", [&] { sequence(8); }},
      {"bare (all four passes)", [&] { sequence(15); }},
  };
  std::vector<std::vector<double>> ms(variants.size());
  for (int rep = 0; rep < reps; ++rep)
    for (size_t k = 0; k < variants.size(); ++k) {
      const size_t v = (k + rep) % variants.size();  // rotate the order: no variant always follows another
      // Untimed, a call of the same variant first: the timed call starts from that variant's own
      // steady state, as in the benchmark's loop. Without it, the kernel variants (whose y and dx
      // the bare ones write too) found their outputs in cache and the framework (its own blocks)
      // did not: the framework read 2-12 % slower than its kernels (fifteenth round).
      variants[v].second();
      const auto t0 = std::chrono::steady_clock::now();
      variants[v].second();
      ms[v].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  std::printf("BatchNorm fwd+bwd %ldx%ld, %d threads, %d repetitions (ms)\n", static_cast<long>(R),
              static_cast<long>(C), num_threads(), reps);
  for (size_t v = 0; v < variants.size(); ++v)
    std::printf("  %-30s median %.3f  min %.3f\n", variants[v].first.c_str(), median(ms[v]),
                *std::min_element(ms[v].begin(), ms[v].end()));
}
