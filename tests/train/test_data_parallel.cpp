// Data-parallel training (docs/distributed.md): `mpirun -np 2 normlab train` against a plain
// one-process run of the same config and global batch; identical replicas; stopping together
// (NaN, SIGINT to one rank, an error on one rank); resume on another rank count. Multi-rank
// tests skip with a warning in builds without MPI. Every mpirun has a timeout (tests/mpi_run.h).
#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "cli_run.h"
#include "core/distributed.h"
#include "data/batch.h"
#include "mpi_run.h"
#include "train/checkpoint.h"
#include "train/gradient_sync.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;

namespace {

// A small MLP on a slice of Fashion-MNIST (no BatchNorm, no dropout): 20 steps.
json mlp_config(int64_t batch) {
  json cfg = json::parse(R"({
    "seed": 7,
    "data": {"type": "fashion_mnist", "layout": "flat", "train_size": 400, "val_size": 50, "test_size": 50},
    "model": {"type": "mlp", "hidden": [32], "norm": {"type": "none"}},
    "optim": {"type": "adam", "lr": 0.003},
    "train": {"steps": 20, "log_interval": 10, "eval_interval": 10, "eval_batches": 1,
              "checkpoint_interval": 5}
  })");
  cfg["train"]["batch_size"] = batch;
  return cfg;
}

// A tiny transformer language model on variable-length sequences: the ranks' shards hold
// different numbers of valid tokens, which the loss weighting must account for. Plain SGD:
// the key bias's true gradient is exactly 0 (softmax is shift-invariant), and Adam would turn
// its rounding noise — which differs with the summation order — into full-size steps.
json lm_config() {
  return json::parse(R"({
    "seed": 3,
    "data": {"type": "pattern_lm", "train_size": 60, "val_size": 16, "test_size": 16,
             "min_length": 4, "max_length": 16, "loader": {"drop_last": true}},
    "model": {"type": "transformer_lm", "d_model": 16, "heads": 2, "layers": 1, "ff": 32, "dropout": 0},
    "optim": {"type": "sgd", "lr": 0.5},
    "train": {"steps": 12, "batch_size": 7, "log_interval": 6, "eval_interval": 0, "causal_probe": false}
  })");
}

fs::path write_config(const fs::path& dir, const std::string& name, const json& cfg) {
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << cfg.dump(2);
  return p;
}

// `normlab train` arguments (without the program, as run_normlab takes them) ...
std::vector<std::string> train_args(const fs::path& cfg, const fs::path& out) {
  return {"train", cfg.string(), "--out", out.string(), "--quiet", "--threads", "1"};
}
// ... and the command for run_mpi.
std::vector<std::string> train_cmd(const fs::path& cfg, const fs::path& out) {
  std::vector<std::string> c = train_args(cfg, out);
  c.insert(c.begin(), NORMLAB_CLI_PATH);
  return c;
}

// Largest per-tensor relative difference ||a-b|| / ||b|| of two checkpoints' model tensors
// (the tensor's name goes to *worst_name).
double checkpoint_rel_diff(const fs::path& a, const fs::path& b, std::string* worst_name = nullptr) {
  const Checkpoint ca = load_checkpoint((a / "checkpoint.safetensors").string());
  const Checkpoint cb = load_checkpoint((b / "checkpoint.safetensors").string());
  REQUIRE(ca.step == cb.step);
  REQUIRE(ca.model.size() == cb.model.size());
  double worst = 0;
  for (size_t i = 0; i < ca.model.size(); ++i) {
    REQUIRE(ca.model[i].first == cb.model[i].first);
    const Tensor& x = ca.model[i].second;
    const Tensor& y = cb.model[i].second;
    REQUIRE(x.shape() == y.shape());
    double d = 0, n = 0;
    for (int64_t k = 0; k < x.numel(); ++k) {
      d += std::pow(static_cast<double>(x.data()[k]) - y.data()[k], 2);
      n += std::pow(static_cast<double>(y.data()[k]), 2);
    }
    const double rel = std::sqrt(d) / std::max(std::sqrt(n), 1e-30);
    if (rel >= worst && worst_name) *worst_name = ca.model[i].first;
    worst = std::max(worst, rel);
  }
  return worst;
}

json summary_of(const fs::path& run) { return json::parse(read_text(run / "summary.json")); }

}  // namespace

TEST_CASE("data parallel: slice_rows cuts every tensor of a batch", "[data][distributed]") {
  Batch b;
  b.inputs = Tensor::arange(0, 24).reshape({4, 3, 2});
  b.mask = Tensor::ones({4, 3});
  b.lengths = Tensor::from_vector({3, 2, 1, 3}, {4});
  b.targets = Tensor::from_vector({0, 1, 2, 3}, {4});
  const Batch s = slice_rows(b, 1, 3);
  CHECK(s.size() == 2);
  CHECK(s.inputs.shape() == Shape{2, 3, 2});
  CHECK(s.inputs.data()[0] == 6.0f);
  CHECK(s.inputs.data()[11] == 17.0f);
  CHECK(s.mask.shape() == Shape{2, 3});
  CHECK(s.lengths.to_vector() == std::vector<float>{2, 1});
  CHECK(s.targets.to_vector() == std::vector<float>{1, 2});
  Batch flat;  // flat data: no mask, no lengths
  flat.inputs = Tensor::zeros({3, 5});
  flat.targets = Tensor::zeros({3});
  const Batch f = slice_rows(flat, 2, 3);
  CHECK_FALSE(f.mask.defined());
  CHECK(f.inputs.shape() == Shape{1, 5});
  CHECK_THROWS_AS(slice_rows(b, 2, 2), ValueError);
  CHECK_THROWS_AS(slice_rows(b, 0, 5), ValueError);
}

TEST_CASE("data parallel: gradient buckets and a world of one", "[train][distributed]") {
  std::vector<std::pair<std::string, Tensor>> params;
  for (int64_t n : {10, 3, 30, 7}) {
    Tensor p = Tensor::ones({n});
    p.set_grad(Tensor::full({n}, 0.5f));
    params.emplace_back("p" + std::to_string(n), p);
  }
  // 64-byte buckets = 16 floats: [10, 3] [30] [7]
  GradientSync sync(params, 64);
  CHECK(sync.num_buckets() == 3);
  CHECK(GradientSync(params).num_buckets() == 1);
  CHECK_THROWS_AS(GradientSync(params, 2), ValueError);
  sync.allreduce_gradients();  // world of one: unchanged
  for (auto& [_, p] : params) CHECK(p.grad().to_vector() == std::vector<float>(p.numel(), 0.5f));
  const double c = parameter_checksum(params);
  params[1].second.data()[0] = 2.0f;
  CHECK(parameter_checksum(params) != c);
}

// Run as each rank: the Trainer in-process on every rank; every rank's parameter checksum
// (allgathered) must be the same after training and equal to rank 0's checkpoint.
TEST_CASE("data parallel worker: replicas stay identical", "[.mpi_worker_dp_replicas]") {
  REQUIRE(dist::size() > 1);
  register_test_models();
  // One folder for all ranks: rank 0's pid, broadcast.
  double pid = static_cast<double>(::getpid());
  dist::broadcast(&pid, 1, 0);
  const fs::path dir = fs::temp_directory_path() / ("normlab_dp_replicas_" + std::to_string(static_cast<long>(pid)));
  if (dist::is_root()) fs::remove_all(dir);
  dist::barrier();
  Experiment ex = build_experiment(tiny_config(15));
  RunOptions opt;
  opt.out_dir = dir.string();
  opt.quiet = true;
  const RunResult r = train_experiment(ex, opt);  // returns on every rank after rank 0 wrote
  CHECK(r.status == RunStatus::completed);
  CHECK(r.step == 15);
  const auto np = ex.model->named_parameters();
  const double sum = parameter_checksum({np.begin(), np.end()});
  std::vector<double> all(static_cast<size_t>(dist::size()));
  dist::allgather(&sum, 1, all.data());
  for (double s : all) CHECK(s == all[0]);
  const Checkpoint ck = load_checkpoint((dir / "checkpoint.safetensors").string());
  std::map<std::string, Tensor> saved(ck.model.begin(), ck.model.end());
  for (const auto& [name, p] : np) {
    INFO(name);
    REQUIRE(saved.count(name) == 1);
    CHECK(saved[name].to_vector() == p.to_vector());
  }
  const json s = json::parse(read_text(dir / "summary.json"));
  CHECK(s["ranks"] == dist::size());
  CHECK(s["final"]["comm"]["calls_per_step"].get<double>() >= 2.0);
  dist::barrier();
  if (dist::is_root()) fs::remove_all(dir);
}

// Run as each rank: rank 1 alone gets SIGINT (the model raises it in its 6th forward pass);
// every rank stops after step 6 with `interrupted`, and the resumed run (same ranks) is
// bit-identical to an uninterrupted one.
TEST_CASE("data parallel worker: SIGINT to one rank stops all", "[.mpi_worker_dp_sigint]") {
  REQUIRE(dist::size() > 1);
  register_test_models();
  double pid = static_cast<double>(::getpid());
  dist::broadcast(&pid, 1, 0);
  const fs::path dir = fs::temp_directory_path() / ("normlab_dp_sigint_" + std::to_string(static_cast<long>(pid)));
  if (dist::is_root()) fs::remove_all(dir);
  dist::barrier();
  json cfg = tiny_config(14);
  REQUIRE(train_config(cfg, dir / "ref").status == RunStatus::completed);
  json stop = cfg;
  if (dist::rank() == 1) stop["model"]["interrupt_at_call"] = 6;  // parameters unchanged
  const RunResult r = train_config(stop, dir / "run");
  CHECK(r.status == RunStatus::interrupted);
  CHECK(r.step == 6);
  RunOptions opt;
  opt.quiet = true;
  const RunResult done = resume_run((dir / "run").string(), {"model.interrupt_at_call=0"}, opt);
  CHECK(done.status == RunStatus::completed);
  CHECK(done.step == 14);
  const Checkpoint a = load_checkpoint((dir / "ref" / "checkpoint.safetensors").string());
  const Checkpoint b = load_checkpoint((dir / "run" / "checkpoint.safetensors").string());
  REQUIRE(a.model.size() == b.model.size());
  for (size_t i = 0; i < a.model.size(); ++i) {
    INFO(a.model[i].first);
    CHECK(a.model[i].second.to_vector() == b.model[i].second.to_vector());
  }
  dist::barrier();
  if (dist::is_root()) fs::remove_all(dir);
}

TEST_CASE("data parallel: replicas identical and SIGINT to one rank stops every rank", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  for (const char* tag : {"[.mpi_worker_dp_replicas]", "[.mpi_worker_dp_sigint]"}) check_worker_tests_pass(tag, {2});
}

namespace {

// Trains `cfg` as 1 process and as 2 ranks (the same global batch); the weights after the
// run and the final test loss must agree to rounding.
void check_two_ranks_match_one(const std::string& name, const json& cfg) {
  const fs::path dir = fresh_dir("dp_match_" + name);
  const fs::path path = write_config(dir, name + ".json", cfg);
  const fs::path one = dir / "one", two = dir / "two";
  const CliResult r1 = run_normlab(train_args(path, one));
  INFO(r1.err);
  REQUIRE(r1.exit_code == 0);
  const MpiResult r2 = run_mpi(2, train_cmd(path, two), 60);
  INFO(r2.out << r2.err);
  REQUIRE_FALSE(r2.timed_out);
  REQUIRE(r2.exit_code == 0);
  std::string worst;
  const double rel = checkpoint_rel_diff(two, one, &worst);
  INFO("largest relative weight difference " << rel << " (" << worst << ")");
  CHECK(rel <= 1e-5);
  const json s1 = summary_of(one), s2 = summary_of(two);
  CHECK(s1["ranks"] == 1);
  CHECK(s2["ranks"] == 2);
  const double l1 = s1["final"]["test"]["loss"].get<double>(), l2 = s2["final"]["test"]["loss"].get<double>();
  CHECK(std::abs(l1 - l2) <= 1e-5 * std::abs(l1));
  // Per step: one gradient bucket (4 bytes per value, a flag per tensor) + the step reduction.
  const double params = s2["parameters"].get<double>(), bytes = s2["final"]["comm"]["bytes_per_step"].get<double>();
  CHECK(s2["final"]["comm"]["calls_per_step"].get<double>() == 2.0);
  CHECK(bytes >= 4 * params + 48);
  CHECK(bytes <= 4 * params + 48 + 4 * 64);
  CHECK(s1["final"]["comm"]["calls_per_step"].get<double>() == 0);
  fs::remove_all(dir);
}

}  // namespace

TEST_CASE("data parallel: 2 ranks match 1 process on an MLP", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  check_two_ranks_match_one("mlp16", mlp_config(16));
}

TEST_CASE("data parallel: 2 ranks match 1 process with an odd batch split 2 and 3", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  check_two_ranks_match_one("mlp5", mlp_config(5));
}

TEST_CASE("data parallel: 2 ranks match 1 process on an LM with unequal token counts", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  check_two_ranks_match_one("lm7", lm_config());
}

TEST_CASE("data parallel: an error on one rank ends the job", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  const fs::path dir = fresh_dir("dp_errors");
  json good = mlp_config(16);
  good["train"]["steps"] = 100000;  // would run for long: the other rank's error must end it
  json bad = good;
  bad["data"]["dir"] = (dir / "no-such-folder").string();
  const fs::path a = write_config(dir, "a.json", good), b = write_config(dir, "b.json", bad);
  // Open MPI's MPMD form: rank 0 runs a.json, rank 1 b.json.
  std::vector<std::string> cmd = train_cmd(a, dir / "run");
  for (const char* w : {":", "-np", "1"}) cmd.push_back(w);
  for (const std::string& w : train_cmd(b, dir / "run")) cmd.push_back(w);
  const MpiResult r = run_mpi(1, cmd, 60);
  INFO(r.out << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code != 0);
  CHECK(r.err.find("normlab: rank 1/2: ") != std::string::npos);
  CHECK(r.err.find("no-such-folder") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("data parallel: a global batch smaller than the rank count is a config error", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  const fs::path dir = fresh_dir("dp_small_batch");
  const MpiResult r = run_mpi(2, train_cmd(write_config(dir, "b1.json", mlp_config(1)), dir / "run_b1"), 60);
  INFO(r.out << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("train.batch_size 1 is smaller than the number of ranks (2 ranks)") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("data parallel: NaN on 2 ranks stops like one process", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  const fs::path dir = fresh_dir("dp_nan");
  // Plain SGD with a huge step on an RNN: the loss overflows within a few steps.
  const json cfg = json::parse(R"({
    "seed": 1,
    "data": {"type": "adding", "train_size": 200, "val_size": 32, "test_size": 32, "min_length": 5, "max_length": 10},
    "model": {"type": "rnn_regressor", "hidden_size": 16},
    "optim": {"type": "sgd", "lr": 10},
    "train": {"steps": 30, "batch_size": 8, "log_interval": 1, "eval_interval": 0, "checkpoint_interval": 1}
  })");
  const fs::path p = write_config(dir, "nan.json", cfg);
  const CliResult one = run_normlab(train_args(p, dir / "one"));
  const MpiResult two = run_mpi(2, train_cmd(p, dir / "two"), 60);
  INFO(one.err << "\n---\n" << two.out << two.err);
  REQUIRE_FALSE(two.timed_out);
  CHECK(one.exit_code == 1);
  CHECK(two.exit_code == one.exit_code);
  // The same message (the kind and the step) from rank 0 alone.
  const std::string line = one.one_line();
  REQUIRE_FALSE(line.empty());
  REQUIRE(line.find("; stopping") != std::string::npos);
  CHECK(two.err.find(line.substr(0, line.find("; stopping"))) != std::string::npos);
  CHECK(summary_of(dir / "two")["status"] == "diverged");
  CHECK(summary_of(dir / "two")["steps"] == summary_of(dir / "one")["steps"]);
  CHECK(fs::exists(dir / "two" / "checkpoint.safetensors") == fs::exists(dir / "one" / "checkpoint.safetensors"));
  fs::remove_all(dir);
}

namespace {

// The pid of the process whose command line contains `needle` and whose environment says it is
// MPI rank `rank` (0 when there is none yet).
pid_t find_rank_pid(const std::string& needle, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = read_text(e.path() / "cmdline");
    if (cmdline.find(needle) == std::string::npos || cmdline.find("mpirun") != std::string::npos) continue;
    std::string env = read_text(e.path() / "environ");
    for (char& c : env)
      if (c == '\0') c = '\n';
    if (("\n" + env).find("\n" + want + "\n") != std::string::npos) return static_cast<pid_t>(std::stol(name));
  }
  return 0;
}

}  // namespace

TEST_CASE("data parallel: SIGINT to one rank of mpirun exits 130 and resumes on 2 and 1 ranks",
          "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  const fs::path dir = fresh_dir("dp_sigint_cli");
  json cfg = mlp_config(16);
  cfg["train"]["steps"] = 100000;
  cfg["train"]["log_interval"] = 1;
  cfg["train"]["eval_interval"] = 0;
  cfg["train"]["checkpoint_interval"] = 0;
  const fs::path p = write_config(dir, "long.json", cfg);
  const fs::path run = dir / "run";
  MpiResult r;
  std::thread job([&] { r = run_mpi(2, train_cmd(p, run), 90); });
  // Once a train record is logged every rank is in the training loop: signal rank 1 alone.
  pid_t pid = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(run / "metrics.jsonl") && fs::file_size(run / "metrics.jsonl") > 0 &&
        (pid = find_rank_pid(run.string(), 1)) != 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(pid != 0);
  if (pid != 0) kill(pid, SIGINT);
  job.join();
  INFO(r.out << r.err);
  REQUIRE_FALSE(r.timed_out);
  CHECK(r.exit_code == 130);
  CHECK(r.err.find("normlab: interrupted at step ") != std::string::npos);
  REQUIRE(fs::exists(run / "checkpoint.safetensors"));
  CHECK(summary_of(run)["status"] == "interrupted");
  const int64_t at = load_checkpoint((run / "checkpoint.safetensors").string()).step;
  // Continue 6 more steps on 2 ranks and on 1 process: the same weights up to rounding.
  const std::string more = "train.steps=" + std::to_string(at + 6);
  fs::copy(run, dir / "on1", fs::copy_options::recursive);
  const MpiResult two = run_mpi(2, {NORMLAB_CLI_PATH, "train", "--resume", run.string(), "--set", more, "--quiet",
                                    "--threads", "1"}, 60);
  INFO(two.out << two.err);
  REQUIRE(two.exit_code == 0);
  const CliResult one = run_normlab({"train", "--resume", (dir / "on1").string(), "--set", more, "--quiet",
                                     "--threads", "1"});
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  CHECK(summary_of(run)["steps"] == at + 6);
  CHECK(summary_of(dir / "on1")["ranks"] == 1);
  CHECK(checkpoint_rel_diff(run, dir / "on1") <= 1e-5);
  fs::remove_all(dir);
}

TEST_CASE("data parallel: version names MPI and threads are shared among local ranks", "[train][distributed][mpi]") {
  SKIP_WITHOUT_MPI();
  const MpiResult r = run_mpi(2, {NORMLAB_CLI_PATH, "version"}, 60);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("mpi: built with Open MPI (world size 2)") != std::string::npos);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (std::getenv("NORMLAB_THREADS") == nullptr)
    CHECK(r.out.find("threads: " + std::to_string(std::max(1, cores / 2)) + "\n") != std::string::npos);
}
