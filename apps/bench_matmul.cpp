// `normlab bench matmul`: one matmul through the framework (with autograd bookkeeping off)
// vs the raw cblas_sgemm call (OpenBLAS as normlab calls it, without normlab's register kernel,
// core/register_gemm.h, which the framework's matmul may use), same shapes, same run.
#include <cstdio>

#include "apps/bench_util.h"
#include "apps/commands.h"
#include "core/normlab.h"
#include "core/register_gemm.h"

namespace nl::cli {

void register_bench_matmul(CLI::App& bench) {
  auto* cmd = bench.add_subcommand("matmul", "Time (M,K)x(K,N) through normlab vs raw sgemm");
  static int64_t M = 2048, K = 128, N = 512;
  cmd->add_option("-m", M, "rows of A")->capture_default_str();
  cmd->add_option("-k", K, "inner dimension")->capture_default_str();
  cmd->add_option("-n", N, "columns of B")->capture_default_str();
  cmd->callback([] {
    Rng rng(0);
    Tensor a = Tensor::uniform({M, K}, -1, 1, rng), b = Tensor::uniform({K, N}, -1, 1, rng);
    Tensor c = Tensor::empty({M, N});
    const Timing raw = [&] {
      const RegisterGemmScope openblas_only(false);
      return time_it([&] { sgemm(false, false, M, N, K, 1.0f, a.data(), b.data(), 0.0f, c.data()); });
    }();
    const Timing fw = time_it([&] { Tensor out = matmul(a, b); });
    const double gflop = 2.0 * M * N * K * 1e-9;
    std::printf("matmul (%lld,%lld)x(%lld,%lld), %d thread(s)\n", (long long)M, (long long)K,
                (long long)K, (long long)N, num_threads());
    std::printf("  raw cblas_sgemm : best %.3f ms  median %.3f ms  (%.1f GFLOP/s)\n", raw.best_ms,
                raw.median_ms, gflop / (raw.best_ms * 1e-3));
    std::printf("  normlab matmul  : best %.3f ms  median %.3f ms  (%.1f GFLOP/s)\n", fw.best_ms,
                fw.median_ms, gflop / (fw.best_ms * 1e-3));
  });
}

}  // namespace nl::cli
