// `normlab bench <what>`: speed measurements. Each benchmark family registers itself from its
// own apps/bench_*.cpp; timing targets live here, never in tests.
// `normlab bench --json [--filter REGEX] [--repeat K]` runs the whole machine-readable suite
// (train/bench_suite.h) and prints one JSON object per line.
#include <cstdio>
#include <regex>

#include "apps/commands.h"
#include "core/error.h"
#include "train/bench_suite.h"

namespace nl::cli {

void register_bench(CLI::App& app) {
  auto* bench = app.add_subcommand(
      "bench", "Measure speed: matmul vs raw sgemm, norm kernels, training steps");
  static bool as_json = false, list = false;
  static std::string filter;
  static int repeat = 11;
  bench->add_flag("--json", as_json,
                  "run the whole suite (norm kernels, matmul/sgemm, STREAM triad, training steps, "
                  "each step's BLAS floor: blas/NAME, its products replayed alone at 1 thread), "
                  "one JSON object per line");
  bench->add_option("--filter", filter, "with --json: only benchmarks whose name matches REGEX");
  bench->add_option("--repeat", repeat,
                    "with --json: timed repetitions per benchmark, each at least 20 ms of calls")
      ->capture_default_str()->check(CLI::PositiveNumber);
  bench->add_flag("--list", list, "print the names of the --json suite, one per line");
  bench->require_subcommand(0, 1);
  register_bench_matmul(*bench);
  register_bench_norms(*bench);
  register_bench_models(*bench);
  bench->callback([bench] {
    if (!bench->get_subcommands().empty()) {
      if (as_json) throw ConfigError("bench: --json runs the whole suite; give no subcommand with it");
      return;
    }
    if (list) {
      for (const BenchCase& c : bench_suite()) std::printf("%s\n", c.name.c_str());
      return;
    }
    if (!as_json)
      throw ConfigError("bench: give a subcommand (matmul, norms, models), --json or --list");
    std::regex re;
    try {
      re = std::regex(filter.empty() ? std::string(".*") : filter);
    } catch (const std::regex_error&) {
      throw ConfigError("bench: --filter '" + filter + "' is not a valid regular expression");
    }
    for (const BenchCase& c : bench_suite()) {
      if (!std::regex_search(c.name, re)) continue;
      std::printf("%s\n", c.run(repeat).dump().c_str());
      std::fflush(stdout);
    }
  });
}

}  // namespace nl::cli
