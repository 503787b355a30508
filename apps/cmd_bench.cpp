// `normlab bench`: timings of framework ops against raw BLAS (filled in by the bench work).
#include <chrono>
#include <iostream>

#include "apps/commands.h"
#include "core/normlab.h"

namespace nl::cli {

void register_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Time matmul through normlab vs raw cblas_sgemm");
  cmd->callback([] {
    Rng rng(0);
    Tensor a = Tensor::uniform({2048, 128}, -1, 1, rng), b = Tensor::uniform({128, 512}, -1, 1, rng);
    auto time_ms = [](auto&& f) {
      f();
      double best = 1e30;
      for (int r = 0; r < 20; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
      return best;
    };
    Tensor c = Tensor::empty({2048, 512});
    const double raw = time_ms([&] { sgemm(false, false, 2048, 512, 128, 1.0f, a.data(), b.data(), 0.0f, c.data()); });
    const double fw = time_ms([&] { Tensor out = matmul(a, b); });
    std::cout << "matmul 2048x128 @ 128x512: normlab " << fw << " ms, raw sgemm " << raw << " ms\n";
  });
}

}  // namespace nl::cli
