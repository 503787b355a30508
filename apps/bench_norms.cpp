// `normlab bench norms`: the fused LayerNorm / BatchNorm / RMSNorm kernels through the
// framework (autograd recording included), forward and forward+backward, µs per call and
// effective GB/s with the anchors' minimal-bytes convention (fwd: 2·R·C·4, fwd+bwd: 5·R·C·4,
// as ../shared/anchors/pytorch/torch_norms.py counts them). Run it with --threads 1 and 2.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/bench_util.h"
#include "apps/commands.h"
#include "core/normlab.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/layernorm.h"
#include "layers/rmsnorm.h"

namespace nl::cli {
namespace {

// Median µs per call: calls are grouped so that one repetition lasts >= min_ms.
template <class F>
double us_per_call(F&& f, double min_ms, int reps) {
  f();
  int inner = 1;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < inner; ++i) f();
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (ms >= min_ms || inner >= (1 << 20)) break;
    inner *= 2;
  }
  const Timing t = time_it([&] {
    for (int i = 0; i < inner; ++i) f();
  }, reps);
  return t.median_ms * 1e3 / inner;
}

}  // namespace

void register_bench_norms(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "norms", "Time LayerNorm / BatchNorm / RMSNorm forward and forward+backward kernels");
  static bool quick = false;
  static std::vector<std::string> ops{"layernorm", "batchnorm", "rmsnorm"};
  cmd->add_flag("--quick", quick, "fewer repetitions (smoke test)");
  cmd->add_option("--ops", ops, "which norms")->capture_default_str();
  cmd->callback([] {
    const double min_ms = quick ? 2.0 : 40.0;
    const int reps = quick ? 3 : 11;
    const std::vector<std::pair<int64_t, int64_t>> shapes = {
        {8192, 512}, {2048, 128}, {8192, 256}, {8192, 1024}, {512, 64}};
    std::printf("# bench norms, %d thread(s): median µs per call, effective GB/s "
                "(minimal bytes: fwd 2·R·C·4, fwd+bwd 5·R·C·4)\n", num_threads());
    std::printf("# %-10s %6s %5s | %10s %7s | %10s %7s\n", "op", "R", "C", "fwd µs", "GB/s",
                "fwd+bwd µs", "GB/s");
    for (const std::string& op : ops) {
      for (auto [R, C] : shapes) {
        Rng rng(0);
        Tensor x = Tensor::normal({R, C}, 0.0f, 1.0f, rng).requires_grad_();
        Tensor dy = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
        Tensor w = Tensor::uniform({C}, 0.5f, 1.5f, rng).requires_grad_();
        Tensor b = Tensor::uniform({C}, -0.5f, 0.5f, rng).requires_grad_();
        Tensor rm = Tensor::zeros({C}), rv = Tensor::ones({C});
        auto fwd = [&]() -> Tensor {
          if (op == "layernorm") return layer_norm(x, {C}, w, b);
          if (op == "batchnorm") return batch_norm(x, Tensor(), w, b, rm, rv, true);
          if (op == "rmsnorm") return rms_norm(x, w);
          throw ValueError("bench norms: unknown op '" + op + "' (layernorm, batchnorm, rmsnorm)");
        };
        const double f_us = us_per_call([&] { Tensor y = fwd(); }, min_ms, reps);
        const double fb_us = us_per_call([&] {
          x.zero_grad();  // fresh gradients each call, like torch.autograd.grad
          w.zero_grad();
          b.zero_grad();
          fwd().backward(dy);
        }, min_ms, reps);
        const double bytes = static_cast<double>(R) * C * 4;
        std::printf("  %-10s %6lld %5lld | %10.1f %7.1f | %10.1f %7.1f\n", op.c_str(),
                    static_cast<long long>(R), static_cast<long long>(C), f_us,
                    2 * bytes / (f_us * 1e3), fb_us, 5 * bytes / (fb_us * 1e3));
        std::fflush(stdout);
      }
    }
  });
}

}  // namespace nl::cli
