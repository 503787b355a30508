// `normlab bench models`: ms per training step (forward + loss + backward + Adam step) of the
// reference workloads of ../shared/anchors/WORKLOADS.md (train/workloads.h). With --torch FILE
// (the models.txt JSON lines that anchors/pytorch/run.sh writes) PyTorch's numbers from the
// same machine are printed alongside: config t1 when normlab runs on 1 thread, t1b2 on 2.
// With --memory it prints the steady-state check instead (train/steady_state.h): resident set
// at step 100 and at step --memory-steps, page faults and system allocations per step between.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "apps/bench_util.h"
#include "apps/commands.h"
#include "core/normlab.h"
#include "core/storage.h"
#include "core/timing.h"
#include "train/steady_state.h"
#include "train/workloads.h"

namespace nl::cli {
namespace {

// PyTorch's median ms per step from run.sh's models.txt: (torch model name, config) -> ms.
std::map<std::pair<std::string, std::string>, double> read_torch(const std::string& path) {
  std::map<std::pair<std::string, std::string>, double> out;
  std::ifstream in(path);
  if (!in) throw DataError("bench models: cannot read PyTorch results '" + path +
                           "' (make it with: bash ../shared/anchors/pytorch/run.sh DIR, ONLY=models)");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] != '{') continue;
    const json r = json::parse(line, nullptr, false);
    if (r.is_discarded() || !r.contains("model") || !r.contains("config") || !r.contains("median_ms")) continue;
    out[{r["model"].get<std::string>(), r["config"].get<std::string>()}] = r["median_ms"].get<double>();
  }
  return out;
}

bool selected(const std::string& only, const std::string& name) {
  return only.empty() || ("," + only + ",").find("," + name + ",") != std::string::npos;
}

// Every name in --only must be a workload: a typo would otherwise print an empty table.
void check_only(const std::string& only) {
  if (only.empty()) return;
  std::vector<std::string> names;
  for (const ReferenceWorkload& w : reference_workloads()) names.push_back(w.name);
  for (size_t begin = 0; begin <= only.size();) {
    const size_t end = std::min(only.find(',', begin), only.size());
    const std::string name = only.substr(begin, end - begin);
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string all;
      for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
      throw ConfigError("bench models: --only: unknown workload '" + name + "'" +
                        did_you_mean(name, names) +
                        "; the workloads: " + all);
    }
    begin = end + 1;
  }
}

// The --memory table: one workload at a time (the counters are the process's).
void print_steady_state(const std::string& only, int64_t first, int64_t last) {
  std::printf("normlab bench models --memory: steady state of a training step, %d thread(s)\n",
              num_threads());
  std::printf("%-10s %14s %14s %16s %16s %10s\n", "workload",
              ("RSS MiB @" + std::to_string(first)).c_str(),
              ("RSS MiB @" + std::to_string(last)).c_str(), "page faults/step", "sys allocs/step",
              "cached MiB");
  for (const ReferenceWorkload& w : reference_workloads()) {
    if (!selected(only, w.name)) continue;
    const SteadyState s = measure_steady_state(w, first, last);
    std::printf("%-10s %14.1f %14.1f %16.3f %16.3f %10.1f\n", w.name.c_str(), s.rss_mb_first,
                s.rss_mb_last, s.minflt_per_step, s.allocs_per_step, s.cached_mb);
    std::fflush(stdout);
  }
}

}  // namespace

void register_bench_models(CLI::App& bench) {
  auto* cmd = bench.add_subcommand(
      "models", "ms per training step (fwd + loss + bwd + Adam) of the reference workloads");
  static std::string only, torch_file;
  static int reps = 20;
  cmd->add_option("--only", only, "comma list of workloads (default: all)");
  cmd->add_option("--reps", reps, "timed steps per workload (after 3 warm-up steps)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--torch", torch_file, "PyTorch results (models.txt from anchors/pytorch/run.sh)");
  static bool memory = false;
  static int memory_steps = 1000;
  cmd->add_flag("--memory", memory,
                "instead of timing: RSS at step 100 and at step --memory-steps, page faults and "
                "system allocations per step in between (0 = steady state; lm_ln: ~1 min)");
  cmd->add_option("--memory-steps", memory_steps, "last step of --memory")
      ->capture_default_str()->check(CLI::Range(101, 1000000));
  cmd->callback([] {
    check_only(only);
    if (memory) {
      print_steady_state(only, 100, memory_steps);
      return;
    }
    std::map<std::pair<std::string, std::string>, double> torch;
    if (!torch_file.empty()) torch = read_torch(torch_file);
    const std::string cfg = num_threads() == 1 ? "t1" : "t1b2";
    std::printf("normlab bench models: ms per training step (fwd + loss + bwd + Adam), %d thread(s)\n",
                num_threads());
    std::printf("%-10s %5s %9s %9s %9s %8s %7s", "workload", "batch", "median", "best", "cpu ms", "GFLOP/s", "allocs");
    if (!torch.empty()) std::printf(" %12s %7s", ("torch " + cfg).c_str(), "ratio");
    std::printf("\n");
    for (const ReferenceWorkload& w : reference_workloads()) {
      if (!selected(only, w.name)) continue;
      WorkloadRunner runner(w);
      auto step = [&] { runner.step(); };
      step(), step();  // warm-up beyond time_it's one: buffers, caches, Adam state
      const int64_t allocs0 = allocator_stats().system_allocs;
      const double cpu0 = process_cpu_ms();
      const Timing t = time_it(step, reps);
      // Process CPU time per step: on a loaded machine wall time also counts waiting for a core.
      const double cpu = (process_cpu_ms() - cpu0) / (reps + 1);
      // System allocations per timed step: 0 when the caching allocator reuses every buffer.
      const double allocs = static_cast<double>(allocator_stats().system_allocs - allocs0) / (reps + 1);
      std::printf("%-10s %5lld %9.3f %9.3f %9.3f %8.1f %7.1f", w.name.c_str(), static_cast<long long>(w.B),
                  t.median_ms, t.best_ms, cpu, w.gflop / (t.median_ms * 1e-3), allocs);
      auto it = torch.find({w.torch_name, cfg});
      if (it != torch.end()) std::printf(" %12.3f %6.2fx", it->second, t.median_ms / it->second);
      std::printf("\n");
      std::fflush(stdout);
    }
  });
}

}  // namespace nl::cli
