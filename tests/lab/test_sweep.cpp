// The sweep runner on tiny real sweeps (the adding problem, a few steps per run): every run
// completes and is indexed, reruns skip finished runs and redo unfinished ones, a crashing run
// and a diverging run are recorded while the sweep goes on, Ctrl-C stops with 130 and a rerun
// finishes only what is missing, and bad specs or run configs stop with exit 2.
#include "test_paths.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "lab/sweep.h"

using namespace nl;
namespace fs = std::filesystem;
using nl::test::read_text;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("normlab_test_sweep_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A 2 (lr) x 2 (seed) grid of a tiny RNN on the adding problem; `steps` per run.
json tiny_spec(const std::string& name, int steps, const json& lrs = json::array({0.01, 0.003})) {
  json s = json::parse(R"({
    "title": "tiny", "question": "does the sweep work?",
    "base": {
      "seed": 0,
      "data": {"type": "adding", "train_size": 64, "val_size": 16, "test_size": 16,
               "min_length": 4, "max_length": 6},
      "model": {"type": "rnn_regressor", "hidden_size": 8},
      "optim": {"type": "adam", "lr": 0.01},
      "train": {"batch_size": 16, "log_interval": 1}
    },
    "metrics": {"test_mse": {"path": "test.mse", "higher_is_better": false}},
    "primary_metric": "test_mse"
  })");
  s["name"] = name;
  s["base"]["train"]["steps"] = steps;
  s["base"]["train"]["eval_interval"] = steps;
  s["grid"] = {{"optim.lr", lrs}, {"seed", {0, 1}}};
  return s;
}

fs::path write_spec(const fs::path& dir, const json& spec) {
  const fs::path p = dir / (spec["name"].get<std::string>() + ".json");
  std::ofstream(p) << spec.dump(2);
  return p;
}

// In a forked child: stdout and stderr to files (file descriptors only: stdio's buffers hold
// the parent's unflushed output).
void redirect_output(const fs::path& out, const fs::path& err) {
  const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
}

struct CliResult {
  int code = -1;
  std::string out, err;
};

// Runs the built CLI with stdout/stderr captured; with `pid_out` it returns at once.
CliResult run_cli(const std::vector<std::string>& args, const fs::path& io_dir, pid_t* pid_out = nullptr) {
  const fs::path out = io_dir / "cli.out", err = io_dir / "cli.err";
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> copy = args;
    std::string cli = NORMLAB_CLI_PATH;
    std::vector<char*> argv = {cli.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    redirect_output(out, err);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  CliResult r;
  if (pid_out) {
    *pid_out = pid;
    return r;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

std::map<std::string, json> runs_by_id(const json& index) {
  std::map<std::string, json> m;
  for (const json& e : index["experiments"])
    for (const json& r : e["runs"]) m[r["id"].get<std::string>()] = r;
  return m;
}

int64_t mtime_ns(const fs::path& p) {
  struct stat st {};
  if (stat(p.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("sweep CLI: a tiny grid completes with 2 jobs, reruns skip finished runs and redo unfinished ones",
          "[lab][sweep]") {
  const fs::path dir = fresh("grid");
  const fs::path spec = write_spec(dir, tiny_spec("tiny", 5));
  const fs::path out = dir / "sw";
  CliResult r = run_cli({"sweep", spec.string(), "--out", out.string(), "--jobs", "2"}, dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "4 completed, 0 diverged, 0 failed, 0 skipped"));
  CHECK(contains(r.out, "next: normlab report " + out.string()));

  const json idx = lab::read_sweep_index(out.string());
  CHECK(idx["format"] == 1);
  REQUIRE(idx["experiments"].size() == 1);
  const json& e = idx["experiments"][0];
  CHECK(e["name"] == "tiny");
  CHECK(e["spec_file"] == spec.string());
  CHECK(e["spec"]["name"] == "tiny");
  REQUIRE(e["runs"].size() == 4);
  std::set<std::string> cells;
  std::set<int64_t> seeds;
  for (const json& run : e["runs"]) {
    CHECK(run["status"] == "completed");
    CHECK(run["exit_code"] == 0);
    CHECK(run["wall_s"].get<double>() > 0);
    CHECK(run["error"] == "");
    const fs::path rd = out / run["dir"].get<std::string>();
    CHECK(json::parse(read_text(rd / "summary.json"))["status"] == "completed");
    CHECK(fs::file_size(rd / "log.txt") > 0);
    // The config the run was started from: the grid's lr and seed applied to the base.
    const json cfg = json::parse(read_text(rd.string() + ".json"));
    CHECK(cfg["optim"]["lr"] == run["cell"]["optim.lr"]);
    CHECK(cfg["seed"] == run["seed"]);
    cells.insert(run["cell_id"].get<std::string>());
    seeds.insert(run["seed"].get<int64_t>());
  }
  CHECK(cells.size() == 2);
  CHECK(seeds == std::set<int64_t>{0, 1});
  CHECK(fs::exists(out / "tiny" / "experiment.json"));
  CHECK(!fs::exists(out / "sweep.json.tmp"));

  // Rerun: nothing to do.
  std::map<std::string, int64_t> before;
  for (const json& run : e["runs"]) before[run["id"]] = mtime_ns(out / run["dir"].get<std::string>() / "summary.json");
  r = run_cli({"sweep", spec.string(), "--out", out.string(), "--jobs", "2"}, dir);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "skipped 4 finished runs"));
  CHECK(contains(r.out, "0 completed, 0 diverged, 0 failed, 4 skipped"));
  for (const json& run : e["runs"])
    CHECK(mtime_ns(out / run["dir"].get<std::string>() / "summary.json") == before[run["id"]]);

  // One run loses its summary (unfinished, continued from its checkpoint), another loses
  // its summary and checkpoint (started again); only those two run.
  const std::string resumed = e["runs"][1]["dir"], restarted = e["runs"][2]["dir"];
  fs::remove(out / resumed / "summary.json");
  fs::remove(out / restarted / "summary.json");
  fs::remove(out / restarted / "checkpoint.safetensors");
  REQUIRE(run_cli({"sweep", spec.string(), "--out", out.string(), "--dry-run"}, dir).code == 0);
  const std::string listing = read_text(dir / "cli.out");
  CHECK(contains(listing, resumed + "  resume from its checkpoint"));
  CHECK(contains(listing, restarted + "  start"));
  CHECK(!fs::exists(out / resumed / "summary.json"));  // a dry run runs nothing

  r = run_cli({"sweep", spec.string(), "--out", out.string(), "--quiet"}, dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(r.out, "2 completed, 0 diverged, 0 failed, 2 skipped"));
  CHECK(contains(read_text(out / resumed / "log.txt"), "resuming from the checkpoint"));
  CHECK(!contains(read_text(out / restarted / "log.txt"), "resuming from the checkpoint"));
  for (const json& run : e["runs"]) {
    const fs::path s = out / run["dir"].get<std::string>() / "summary.json";
    REQUIRE(fs::exists(s));
    if (run["dir"] != resumed && run["dir"] != restarted) CHECK(mtime_ns(s) == before[run["id"]]);
  }
  for (const auto& [id, run] : runs_by_id(lab::read_sweep_index(out.string()))) CHECK(run["status"] == "completed");

  // The spec changes: runs whose config differs start again, a new grid value is a new run,
  // and the index lists the current grid only.
  json changed = tiny_spec("tiny", 6, json::array({0.01, 0.001}));
  write_spec(dir, changed);
  REQUIRE(run_cli({"sweep", spec.string(), "--out", out.string(), "--dry-run"}, dir).code == 0);
  const std::string plan = read_text(dir / "cli.out");
  INFO(plan);
  CHECK(contains(plan, "4 runs (tiny), 0 finished, 4 to run"));
  CHECK(contains(plan, "start again (its config changed)"));
  CHECK(contains(plan, "lr-0.001.seed-0  start\n"));
  fs::remove_all(dir);
}

TEST_CASE("sweep: a crashing run is failed and a diverging run diverged, the sweep goes on and a rerun redoes "
          "only the failed one",
          "[lab][sweep]") {
  const fs::path dir = fresh("crash");
  // Plain SGD at lr 10 makes the RNN's loss infinite after ~11 steps, for every seed.
  json spec_json = tiny_spec("bad", 20);
  spec_json["variants"] = {{"ok", {{"set", json::object()}}},
                           {"blowup", {{"set", {{"optim.type", "sgd"}, {"optim.lr", 10}}}}}};
  spec_json["grid"] = {{"variant", {"ok", "blowup"}}, {"seed", {0, 1}}};
  const lab::ExperimentSpec spec = lab::load_experiment(write_spec(dir, spec_json).string());
  const std::vector<lab::RunSpec> runs = lab::expand_grid(spec);
  REQUIRE(runs.size() == 4);
  const std::string crash_id = runs[1].id;  // ok, seed 1
  // A stand-in normlab that dies of SIGSEGV for one run and is the real one for the others.
  const fs::path fake = dir / "fake_normlab.sh";
  std::ofstream(fake) << "#!/bin/sh\ncase \"$*\" in *" << crash_id << ".json*) echo about to crash >&2; kill -SEGV $$;; esac\n"
                      << "exec " << NORMLAB_CLI_PATH << " \"$@\"\n";
  fs::permissions(fake, fs::perms::owner_all);

  lab::SweepOptions opt;
  opt.out_dir = (dir / "sw").string();
  opt.normlab_exe = fake.string();
  opt.jobs = 2;
  std::ostringstream log;
  opt.out = &log;
  lab::SweepResult res = lab::run_sweep({spec}, opt);
  INFO(log.str());
  CHECK(res.total == 4);
  CHECK(res.completed == 1);
  CHECK(res.diverged == 2);
  CHECK(res.failed == 1);
  CHECK(!res.stopped);
  auto idx = runs_by_id(lab::read_sweep_index(opt.out_dir));
  REQUIRE(idx.size() == 4);
  CHECK(idx[runs[0].id]["status"] == "completed");
  CHECK(idx[crash_id]["status"] == "failed");
  CHECK(idx[crash_id]["exit_code"].is_null());
  CHECK(contains(idx[crash_id]["error"], "signal 11"));
  CHECK(contains(idx[crash_id]["error"], "about to crash"));
  for (int i : {2, 3}) {
    CHECK(idx[runs[i].id]["status"] == "diverged");
    CHECK(idx[runs[i].id]["exit_code"] == 1);
    CHECK(contains(idx[runs[i].id]["error"], "loss is"));
  }
  CHECK(contains(log.str(), crash_id));

  // Rerun with the real normlab: only the failed run runs (diverged is final).
  opt.normlab_exe = NORMLAB_CLI_PATH;
  log.str("");
  res = lab::run_sweep({spec}, opt);
  CHECK(res.skipped == 3);
  CHECK(res.completed == 1);
  CHECK(res.failed == 0);
  idx = runs_by_id(lab::read_sweep_index(opt.out_dir));
  CHECK(idx[crash_id]["status"] == "completed");
  CHECK(idx[crash_id]["error"] == "");
  CHECK(idx[runs[2].id]["status"] == "diverged");
  fs::remove_all(dir);
}

TEST_CASE("sweep CLI: SIGINT stops the sweep with 130, runs checkpoint, a rerun finishes only the missing runs",
          "[lab][sweep]") {
  const fs::path dir = fresh("sigint");
  json spec_json = tiny_spec("long", 6000, json::array({0.01}));  // ~1.5 s per run
  spec_json["base"]["train"]["log_interval"] = 20;
  spec_json["grid"]["seed"] = {0, 1, 2};
  const fs::path spec = write_spec(dir, spec_json);
  const fs::path out = dir / "sw";
  const std::vector<lab::RunSpec> runs = lab::expand_grid(lab::load_experiment(spec.string()));
  const fs::path first = out / "long" / runs[0].id;
  pid_t pid = 0;
  run_cli({"sweep", spec.string(), "--out", out.string(), "--jobs", "1", "--run-threads", "1"}, dir, &pid);
  // Press Ctrl-C once the first run has trained a few steps.
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  while (!fs::exists(first / "metrics.jsonl") || fs::file_size(first / "metrics.jsonl") < 200) {
    if (waitpid(pid, &status, WNOHANG) == pid) FAIL("the sweep ended before the first run trained: " << status);
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("the first run trained nothing within 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGINT);
  waitpid(pid, &status, 0);
  INFO(read_text(dir / "cli.out") << read_text(dir / "cli.err"));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 130);
  CHECK(contains(read_text(dir / "cli.out"), "rerun the same command"));
  auto idx = runs_by_id(lab::read_sweep_index(out.string()));
  REQUIRE(idx.size() == 3);
  int finished = 0;
  for (const auto& [id, r] : idx) finished += r["status"] == "completed";
  CHECK(finished < 3);
  // The running run saved a checkpoint and is recorded as interrupted; later ones never started.
  CHECK(idx[runs[0].id]["status"] == "interrupted");
  CHECK(fs::exists(first / "checkpoint.safetensors"));
  CHECK(idx[runs[2].id]["status"] == "pending");
  CHECK(!fs::exists(out / "long" / runs[2].id));

  // Rerun: the interrupted run continues from its checkpoint, the others start.
  const CliResult r = run_cli({"sweep", spec.string(), "--out", out.string(), "--jobs", "2"}, dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(contains(read_text(first / "log.txt"), "resuming from the checkpoint"));
  idx = runs_by_id(lab::read_sweep_index(out.string()));
  for (const auto& [id, run] : idx) CHECK(run["status"] == "completed");
  fs::remove_all(dir);
}

TEST_CASE("sweep CLI: bad experiment files and run config errors exit 2 naming the key", "[lab][sweep]") {
  const fs::path dir = fresh("bad");
  json spec_json = tiny_spec("typo", 5);
  spec_json["gird"] = spec_json["grid"];
  CliResult r = run_cli({"sweep", write_spec(dir, spec_json).string(), "--out", (dir / "sw").string()}, dir);
  CHECK(r.code == 2);
  CHECK(contains(r.err, "gird"));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(!fs::exists(dir / "sw"));

  // A grid key the trainer does not know: the first run fails with a config error and the
  // sweep stops at once (every run would fail alike). Default folder: sweeps/<name>.
  spec_json = tiny_spec("badkey", 5);
  spec_json["grid"] = {{"model.bogus_width", {1, 2}}};
  const fs::path spec = write_spec(dir, spec_json);
  const pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    std::string cli = NORMLAB_CLI_PATH, cmd = "sweep", s = spec.string();
    char* argv[] = {cli.data(), cmd.data(), s.data(), nullptr};
    redirect_output(dir / "cli.out", dir / "cli.err");
    execv(cli.c_str(), argv);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string err = read_text(dir / "cli.err");
  INFO(err);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);
  CHECK(contains(err, "model.bogus_width"));
  CHECK(contains(err, "badkey/"));
  const auto idx = runs_by_id(lab::read_sweep_index((dir / "sweeps" / "badkey").string()));
  REQUIRE(idx.size() == 2);
  CHECK(idx.begin()->second["status"] == "failed");
  CHECK(idx.begin()->second["exit_code"] == 2);
  CHECK(std::next(idx.begin())->second["status"] == "pending");

  REQUIRE_THROWS_AS(lab::read_sweep_index((dir / "nowhere").string()), DataError);
  fs::remove_all(dir);
}
