// `normlab bench models`: ms per training step (forward + loss + backward + Adam step) of the
// reference workloads of ../shared/anchors/WORKLOADS.md, built from normlab's own models with
// the shapes of anchors/pytorch/toy_models.py. With --torch FILE (the models.txt JSON lines
// that anchors/pytorch/run.sh writes) PyTorch's numbers from the same machine are printed
// alongside: config t1 when normlab runs on 1 thread, t1b2 on 2.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "apps/bench_util.h"
#include "apps/commands.h"
#include "core/normlab.h"
#include "core/storage.h"
#include "models/model.h"
#include "optim/adam.h"

namespace nl::cli {
namespace {

struct Workload {
  std::string name;        // as in WORKLOADS.md
  std::string torch_name;  // as in toy_models.py
  json model;              // the "model" config section
  DatasetInfo info;
  int64_t B, T;            // T = 0: flat inputs
  double gflop;            // matmul GFLOP per step (toy_models.py's count)
};

DatasetInfo lm_info() {
  DatasetInfo i;
  i.task = TaskKind::language_model;
  i.vocab_size = 64;
  i.max_length = 64;
  return i;
}
DatasetInfo rnn_info() {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.num_classes = 10;
  i.feature_dim = 32;
  i.max_length = 64;
  return i;
}
DatasetInfo mlp_info() {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.num_classes = 10;
  i.feature_dim = 784;
  i.sequential = false;
  return i;
}

double lm_gflop(double B, double T, double d, double ff, double L, double V) {
  return 3 * 2 * B * T * (L * (4 * d * d + 2 * d * ff + 2 * T * d) + d * V) / 1e9;
}

std::vector<Workload> workloads() {
  auto lm = [](const char* norm, int64_t d, int64_t ff) {
    return json{{"type", "transformer_lm"}, {"d_model", d}, {"heads", 4}, {"layers", 2}, {"ff", ff},
                {"placement", "pre"}, {"norm", {{"type", norm}}}};
  };
  auto rnn = [](const char* norm) {
    return json{{"type", "rnn_classifier"}, {"hidden_size", 256}, {"pool", "last"},
                {"norm", {{"type", norm}}}};
  };
  auto mlp = [](const char* norm) {
    return json{{"type", "mlp"}, {"hidden", {256, 256}}, {"activation", "relu"}, {"norm", {{"type", norm}}}};
  };
  const double rnn_gf = [](double B) { return 3 * 2 * (64 * B * (32 * 256 + 256 * 256) + B * 256 * 10) / 1e9; }(32);
  const double rnn_gf4 = 3 * 2 * (64 * 4.0 * (32 * 256 + 256 * 256) + 4 * 256 * 10) / 1e9;
  auto mlp_gf = [](double B) { return 3 * 2 * B * (784 * 256 + 256 * 256 + 256 * 10) / 1e9; };
  return {
      {"lm_ln", "lm_ln", lm("layernorm", 128, 512), lm_info(), 32, 64, lm_gflop(32, 64, 128, 512, 2, 64)},
      {"lm_bn", "lm_bn", lm("batchnorm", 128, 512), lm_info(), 32, 64, lm_gflop(32, 64, 128, 512, 2, 64)},
      {"lm_tiny", "lm_tiny", lm("layernorm", 16, 64), lm_info(), 1, 64, lm_gflop(1, 64, 16, 64, 2, 64)},
      {"rnn_ln", "rnn_ln_loop", rnn("layernorm"), rnn_info(), 32, 64, rnn_gf},
      {"rnn", "rnn_loop", rnn("none"), rnn_info(), 32, 64, rnn_gf},
      {"rnn_ln_b4", "rnn_ln_loop_b4", rnn("layernorm"), rnn_info(), 4, 64, rnn_gf4},
      {"mlp", "mlp", mlp("none"), mlp_info(), 64, 0, mlp_gf(64)},
      {"mlp_ln", "mlp_ln", mlp("layernorm"), mlp_info(), 64, 0, mlp_gf(64)},
      {"mlp_bn", "mlp_bn", mlp("batchnorm"), mlp_info(), 64, 0, mlp_gf(64)},
      {"mlp_ln_b4", "mlp_ln_b4", mlp("layernorm"), mlp_info(), 4, 0, mlp_gf(4)},
      {"mlp_bn_b4", "mlp_bn_b4", mlp("batchnorm"), mlp_info(), 4, 0, mlp_gf(4)},
  };
}

// Random inputs and targets of the workload's shapes (no padding: fixed length).
Batch make_batch(const Workload& w, Rng& rng) {
  Batch b;
  const DatasetInfo& i = w.info;
  if (i.task == TaskKind::language_model) {
    b.inputs = Tensor::empty({w.B, w.T});
    b.targets = Tensor::empty({w.B, w.T});
    for (int64_t k = 0; k < w.B * w.T; ++k) {
      b.inputs.data()[k] = static_cast<float>(rng.randint(i.vocab_size));
      b.targets.data()[k] = static_cast<float>(rng.randint(i.vocab_size));
    }
    return b;
  }
  b.inputs = w.T > 0 ? Tensor::normal({w.B, w.T, i.feature_dim}, 0, 1, rng)
                     : Tensor::normal({w.B, i.feature_dim}, 0, 1, rng);
  b.targets = Tensor::empty({w.B});
  for (int64_t k = 0; k < w.B; ++k) b.targets.data()[k] = static_cast<float>(rng.randint(i.num_classes));
  return b;
}

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

// CPU time of the whole process (all threads), ms.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
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
  cmd->callback([] {
    std::map<std::pair<std::string, std::string>, double> torch;
    if (!torch_file.empty()) torch = read_torch(torch_file);
    const std::string cfg = num_threads() == 1 ? "t1" : "t1b2";
    std::printf("normlab bench models: ms per training step (fwd + loss + bwd + Adam), %d thread(s)\n",
                num_threads());
    std::printf("%-10s %5s %9s %9s %9s %8s %7s", "workload", "batch", "median", "best", "cpu ms", "GFLOP/s", "allocs");
    if (!torch.empty()) std::printf(" %12s %7s", ("torch " + cfg).c_str(), "ratio");
    std::printf("\n");
    for (const Workload& w : workloads()) {
      if (!only.empty() && ("," + only + ",").find("," + w.name + ",") == std::string::npos) continue;
      Rng rng(1234);
      json spec = w.model;
      ConfigReader reader(spec, "model");
      auto model = make_model(reader, ModelArgs{w.info, &rng});
      model->train();
      Adam opt(model->named_parameters(), AdamOptions{});
      const Batch batch = make_batch(w, rng);
      auto step = [&] {
        Tensor out = model->forward_batch(batch);
        Tensor loss = cross_entropy(out, batch.targets);
        loss.backward();
        opt.step();
        opt.zero_grad();
      };
      step(), step();  // warm-up beyond time_it's one: buffers, caches, Adam state
      const int64_t allocs0 = allocator_stats().system_allocs;
      const double cpu0 = cpu_ms();
      const Timing t = time_it(step, reps);
      // Process CPU time per step: on a loaded machine wall time also counts waiting for a core.
      const double cpu = (cpu_ms() - cpu0) / (reps + 1);
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
