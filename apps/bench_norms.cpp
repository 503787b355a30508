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
#include "core/timing.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/layernorm.h"
#include "layers/rmsnorm.h"
#include "train/bench_suite.h"

namespace nl::cli {
namespace {

struct PerCall {
  double wall_us;  // median over repetitions
  double cpu_us;   // process CPU time / calls: on a loaded machine (other processes on the
                   // cores) this is the kernel's own cost, summed over its threads
};

// µs per call: calls are grouped so that one repetition lasts >= min_ms.
template <class F>
PerCall us_per_call(F&& f, double min_ms, int reps) {
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
  const double c0 = process_cpu_ms();
  const Timing t = time_it([&] {
    for (int i = 0; i < inner; ++i) f();
  }, reps);
  const double cpu = process_cpu_ms() - c0;
  return {t.median_ms * 1e3 / inner, cpu * 1e3 / (static_cast<double>(inner) * (reps + 1))};
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
    std::printf("# %-10s %6s %5s | %10s %7s %8s | %10s %7s %8s\n", "op", "R", "C", "fwd µs",
                "GB/s", "cpu µs", "fwd+bwd µs", "GB/s", "cpu µs");
    std::printf("# %44s(kernels only: fwd+bwd µs, GB/s)\n", "");
    for (const std::string& op : ops) {
      for (auto [R, C] : shapes) {
        NormBenchInputs in(R, C);
        Tensor &x = in.x, &dy = in.dy, &w = in.w, &b = in.b;
        auto fwd = [&]() -> Tensor { return in.forward(op); };
        const PerCall f = us_per_call([&] { Tensor y = fwd(); }, min_ms, reps);
        const PerCall fb = us_per_call([&] {
          x.zero_grad();  // fresh gradients each call, like torch.autograd.grad
          w.zero_grad();
          b.zero_grad();
          fwd().backward(dy);
        }, min_ms, reps);
        // The raw kernels (no autograd, no allocation): what the framework adds on top.
        Tensor y = Tensor::empty({R, C}), dx = Tensor::empty({R, C});
        Tensor gw = Tensor::empty({C}), gb = Tensor::empty({C});
        Tensor s1 = Tensor::empty({std::max(R, C)}), s2 = Tensor::empty({std::max(R, C)}),
               s3 = Tensor::empty({std::max(R, C)});
        kernels::NormGrads g;
        g.dx = dx.data();
        g.dgamma = gw.data();
        g.dbeta = gb.data();
        const PerCall raw = us_per_call([&] {
          if (op == "layernorm") {
            kernels::layernorm_forward(x.data(), w.data(), b.data(), R, C, 1, 1e-5f, y.data(),
                                       s1.data(), s2.data(), s3.data());
            kernels::layernorm_backward(dy.data(), x.data(), w.data(), s1.data(), s2.data(),
                                        s3.data(), R, C, 1, g);
          } else if (op == "batchnorm") {
            kernels::batchnorm_stats(x.data(), nullptr, R, C, 1e-5f, s1.data(), s2.data(),
                                     nullptr, s3.data());
            kernels::batchnorm_apply(x.data(), nullptr, w.data(), b.data(), s1.data(), s2.data(),
                                     s3.data(), R, C, y.data());
            kernels::batchnorm_backward(dy.data(), x.data(), nullptr, w.data(), s1.data(),
                                        s2.data(), s3.data(), R, C, R, true, g);
          } else {
            kernels::rmsnorm_forward(x.data(), w.data(), R, C, 1e-6f, y.data(), s1.data());
            kernels::rmsnorm_backward(dy.data(), x.data(), w.data(), s1.data(), R, C, g);
          }
        }, min_ms, reps);
        const double bytes = static_cast<double>(R) * C * 4;
        std::printf("  %-10s %6lld %5lld | %10.1f %7.1f %8.1f | %10.1f %7.1f %8.1f | %8.1f %5.1f\n",
                    op.c_str(), static_cast<long long>(R), static_cast<long long>(C), f.wall_us,
                    2 * bytes / (f.wall_us * 1e3), f.cpu_us, fb.wall_us,
                    5 * bytes / (fb.wall_us * 1e3), fb.cpu_us, raw.wall_us,
                    5 * bytes / (raw.wall_us * 1e3));
        std::fflush(stdout);
      }
    }
  });
}

}  // namespace nl::cli
