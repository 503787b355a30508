// `normlab bench <what>`: speed measurements. Each benchmark family registers itself from its
// own apps/bench_*.cpp; timing targets live here, never in tests.
#include "apps/commands.h"

namespace nl::cli {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand(
      "bench", "Measure speed: matmul vs raw sgemm, norm kernels, training steps");
  bench->require_subcommand(1);
  register_bench_matmul(*bench);
  register_bench_norms(*bench);
  register_bench_models(*bench);
}

}  // namespace nl::cli
