// The sweep's "ranks" axis: runs with N > 1 ranks are started as `mpirun ... -np N normlab
// --threads 1 train ...` (checked through stand-in mpirun / normlab scripts that record their
// argv and environment), they take N of the --jobs slots, --dry-run prints their command line,
// a missing mpirun or a normlab without MPI stops the sweep with exit 2 naming the axis, Ctrl-C
// reaches the ranks (not mpirun), and one real 2-rank launch through Open MPI's mpirun.
#include "test_paths.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "../cli_run.h"
#include "../mpi_run.h"
#include "helpers.h"
#include "lab/sweep.h"

using namespace nl;
namespace fs = std::filesystem;
using nl::test::read_text;

namespace {

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name) {
    dir = fs::temp_directory_path() / ("normlab_test_ranks_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path script(const std::string& name, const std::string& text) const {
    const fs::path p = dir / name;
    std::ofstream(p) << text;
    fs::permissions(p, fs::perms::owner_all);
    return p;
  }
};

std::vector<std::string> lines_of(const fs::path& p) {
  std::vector<std::string> out;
  std::ifstream in(p);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// A tiny RNN on the adding problem (5 steps per run) over `grid`.
json tiny_spec(const std::string& name, const json& grid) {
  json s = json::parse(R"({
    "base": {
      "seed": 0,
      "data": {"type": "adding", "train_size": 64, "val_size": 16, "test_size": 16, "min_length": 4, "max_length": 6},
      "model": {"type": "rnn_regressor", "hidden_size": 8},
      "optim": {"type": "adam", "lr": 0.01},
      "train": {"batch_size": 16, "log_interval": 1, "steps": 5, "eval_interval": 5}
    },
    "metrics": {"test_mse": {"path": "test.mse", "higher_is_better": false}}
  })");
  s["name"] = name;
  s["grid"] = grid;
  return s;
}

lab::ExperimentSpec load_spec(const Scratch& s, const json& spec) {
  const fs::path p = s.dir / (spec["name"].get<std::string>() + ".json");
  std::ofstream(p) << spec.dump(2);
  return lab::load_experiment(p.string());
}

// Whether a sweep run as this process adds Open MPI's run-as-root variables itself (root, and
// the user has not set both).
bool sweep_adds_root_env() {
  return ::geteuid() == 0 && !(std::getenv("OMPI_ALLOW_RUN_AS_ROOT") && std::getenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"));
}

// What a sweep run as this process gives its mpirun runs for Open MPI's run-as-root check.
std::string expected_root_env() {
  const char* a = std::getenv("OMPI_ALLOW_RUN_AS_ROOT");
  const char* b = std::getenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM");
  if (sweep_adds_root_env()) return "1 1";
  return std::string(a ? a : "unset") + " " + (b ? b : "unset");
}

// A stand-in mpirun: records its argv and the run-as-root variables, then runs the program
// ONCE (a single process stands for the N ranks) with FAKE_RANKS=N.
std::string fake_mpirun_text(const fs::path& rec) {
  return "#!/bin/sh\n"
         "printf 'mpirun %s\\n' \"$*\" >> '" + rec.string() + "'\n"
         "printf 'env %s %s\\n' \"${OMPI_ALLOW_RUN_AS_ROOT:-unset}\" \"${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-unset}\" >> '" +
         rec.string() + "'\n"
         "while [ $# -gt 0 ]; do case \"$1\" in --oversubscribe) shift;; --bind-to) shift 2;;"
         " -np) FAKE_RANKS=$2; export FAKE_RANKS; shift 2;; *) break;; esac; done\n"
         "exec \"$@\"\n";
}

// A stand-in normlab: records its argv and which runs are running beside it (a marker file per
// running process, named by its rank count), then runs the real normlab.
std::string fake_normlab_text(const fs::path& rec, const fs::path& running) {
  return "#!/bin/bash\n"
         "mkdir -p '" + running.string() + "'\n"
         "me='" + running.string() + "'/$$.r${FAKE_RANKS:-1}\n"
         "touch \"$me\"\n"
         "printf 'normlab ranks=%s running=[%s] %s\\n' \"${FAKE_RANKS:-1}\" \"$(ls '" + running.string() +
         "' | tr '\\n' ' ')\" \"$*\" >> '" + rec.string() + "'\n"
         "'" + NORMLAB_CLI_PATH + "' \"$@\"\n"
         "rc=$?\n"
         "rm -f \"$me\"\n"
         "exit $rc\n";
}

}  // namespace

TEST_CASE("sweep ranks: --dry-run prints each mpirun run's command line and runs nothing", "[lab][sweep][ranks]") {
  const Scratch s("dry");
  const fs::path rec = s.dir / "rec.txt";
  const fs::path mpirun = s.script("fake_mpirun.sh", fake_mpirun_text(rec));
  const lab::ExperimentSpec spec = load_spec(s, tiny_spec("dry", {{"ranks", {1, 4}}, {"seed", {0}}}));
  lab::SweepOptions opt;
  opt.out_dir = (s.dir / "sw").string();
  opt.normlab_exe = NORMLAB_CLI_PATH;
  opt.mpirun = mpirun.string();
  opt.exe_has_mpi = true;
  opt.threads_per_job = 3;
  opt.dry_run = true;
  std::ostringstream out;
  opt.out = &out;
  const lab::SweepResult res = lab::run_sweep({spec}, opt);
  INFO(out.str());
  CHECK(res.total == 2);
  const std::string run4 = (s.dir / "sw" / "dry" / "ranks-4.seed-0").string();
  const std::string env = sweep_adds_root_env() ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " : "";
  CHECK(contains(out.str(), "dry/ranks-1.seed-0  start\n  dry/ranks-4.seed-0  start\n      $ " + env + mpirun.string() +
                                " --oversubscribe --bind-to none -np 4 " + NORMLAB_CLI_PATH + " --threads 1 train " +
                                run4 + ".json --out " + run4 + "\n"));
  CHECK(contains(out.str(), "running as root") == !env.empty());
  CHECK(!fs::exists(s.dir / "sw"));
  CHECK(!fs::exists(rec));
}

TEST_CASE("sweep ranks: a needed mpirun or MPI build that is missing stops the sweep naming the axis",
          "[lab][sweep][ranks]") {
  const Scratch s("missing");
  const json spec_json = tiny_spec("miss", {{"variant", {"a"}}, {"ranks", {1, 2}}});
  json with_variant = spec_json;
  with_variant["variants"] = {{"a", {{"set", json::object()}}}};
  const lab::ExperimentSpec spec = load_spec(s, with_variant);
  lab::SweepOptions opt;
  opt.out_dir = (s.dir / "sw").string();
  opt.normlab_exe = NORMLAB_CLI_PATH;
  std::ostringstream out;
  opt.out = &out;
  for (bool dry : {true, false}) {
    opt.dry_run = dry;
    opt.exe_has_mpi = false;
    REQUIRE_THROWS_MENTIONING(lab::run_sweep({spec}, opt), "grid axis 'ranks'", "'miss'", "2 ranks", "without MPI");
    opt.exe_has_mpi = true;
    opt.mpirun = (s.dir / "no_such_mpirun").string();
    REQUIRE_THROWS_MENTIONING(lab::run_sweep({spec}, opt), "grid axis 'ranks'", "no_such_mpirun", "--mpirun");
    opt.mpirun.clear();
  }
  CHECK(!fs::exists(s.dir / "sw"));

  // Only one rank per run: neither mpirun nor MPI is needed.
  const lab::ExperimentSpec one = load_spec(s, tiny_spec("one", {{"ranks", {1}}}));
  opt.exe_has_mpi = false;
  opt.mpirun = (s.dir / "no_such_mpirun").string();
  opt.dry_run = true;
  CHECK(lab::run_sweep({one}, opt).total == 1);

  // Through the CLI: exit 2 and one line, for no mpirun in PATH, a bad --mpirun and a bad value.
  const std::string spec_path = (s.dir / "miss.json").string(), out_dir = (s.dir / "cli").string();
  if (nl::dist::built_with_mpi()) {
    test::expect_one_line_error(
        test::run_normlab({"sweep", spec_path, "--out", out_dir}, [] { ::setenv("PATH", "/nonexistent", 1); }), 2,
        {"grid axis 'ranks'", "no mpirun was found in PATH"});
    test::expect_one_line_error(test::run_normlab({"sweep", spec_path, "--out", out_dir, "--mpirun", "/nonexistent/mpirun"}),
                                2, {"grid axis 'ranks'", "/nonexistent/mpirun"});
  } else {
    test::expect_one_line_error(test::run_normlab({"sweep", spec_path, "--out", out_dir, "--dry-run"}), 2,
                                {"grid axis 'ranks'", "without MPI"});
  }
  with_variant["grid"]["ranks"] = {1, 0};
  std::ofstream(s.dir / "bad.json") << with_variant.dump();
  test::expect_one_line_error(test::run_normlab({"sweep", (s.dir / "bad.json").string(), "--dry-run"}), 2,
                              {"bad.json", "grid axis 'ranks'", "got 0"});
  CHECK(!fs::exists(out_dir));
}

TEST_CASE("sweep ranks: N-rank runs start under mpirun with one thread per rank and take N job slots",
          "[lab][sweep][ranks]") {
  const Scratch s("launch");
  const fs::path rec = s.dir / "rec.txt", running = s.dir / "running";
  const fs::path mpirun = s.script("fake_mpirun.sh", fake_mpirun_text(rec));
  const fs::path normlab = s.script("fake_normlab.sh", fake_normlab_text(rec, running));
  const lab::ExperimentSpec spec = load_spec(s, tiny_spec("launch", {{"ranks", {1, 2}}, {"seed", {0, 1, 2}}}));
  lab::SweepOptions opt;
  opt.out_dir = (s.dir / "sw").string();
  opt.normlab_exe = normlab.string();
  opt.mpirun = mpirun.string();
  opt.exe_has_mpi = true;
  opt.jobs = 2;
  opt.threads_per_job = 3;
  std::ostringstream out;
  opt.out = &out;
  const lab::SweepResult res = lab::run_sweep({spec}, opt);
  INFO(out.str() << read_text(rec));
  CHECK(res.completed == 6);
  CHECK(res.failed == 0);
  CHECK(contains(out.str(), "running as root") == sweep_adds_root_env());

  const fs::path exp = s.dir / "sw" / "launch";
  int mpiruns = 0, plain = 0, ranked = 0;
  for (const std::string& l : lines_of(rec)) {
    if (l.rfind("mpirun ", 0) == 0) {
      ++mpiruns;
      CHECK(contains(l, "mpirun --oversubscribe --bind-to none -np 2 " + normlab.string() + " --threads 1 train " +
                            (exp / "ranks-2.seed-").string()));
    } else if (l.rfind("env ", 0) == 0) {
      CHECK(l == "env " + expected_root_env());
    } else if (l.rfind("normlab ranks=2 ", 0) == 0) {
      ++ranked;
      CHECK(contains(l, " --threads 1 train " + (exp / "ranks-2.seed-").string()));
      // A 2-rank run at --jobs 2 takes both slots: it runs alone.
      const size_t a = l.find('['), b = l.find(']');
      CHECK(std::count(l.begin() + static_cast<std::ptrdiff_t>(a), l.begin() + static_cast<std::ptrdiff_t>(b), '.') == 1);
    } else if (l.rfind("normlab ranks=1 ", 0) == 0) {
      ++plain;
      CHECK(contains(l, " --threads 3 train " + (exp / "ranks-1.seed-").string()));
      CHECK(!contains(l, ".r2"));
    } else {
      FAIL("unexpected record: " << l);
    }
  }
  CHECK(mpiruns == 3);
  CHECK(ranked == 3);
  CHECK(plain == 3);
  // The run's config does not know about ranks: the same as the one-rank run's.
  for (int seed = 0; seed < 3; ++seed) {
    const std::string sd = ".seed-" + std::to_string(seed);
    CHECK(json::parse(read_text(exp / ("ranks-2" + sd + ".json"))) == json::parse(read_text(exp / ("ranks-1" + sd + ".json"))));
  }
  const json idx = lab::read_sweep_index(opt.out_dir);
  for (const json& r : idx["experiments"][0]["runs"]) {
    CHECK(r["status"] == "completed");
    CHECK(r["cell"]["ranks"] == (contains(r["id"], "ranks-2") ? 2 : 1));
  }
}

TEST_CASE("sweep ranks: Ctrl-C sends SIGINT to the ranks, not to mpirun, and the run is interrupted",
          "[lab][sweep][ranks]") {
  if (!nl::dist::built_with_mpi()) {
    WARN("built without MPI: the sweep refuses a ranks axis (tested above)");
    return;
  }
  const Scratch s("sigint");
  const fs::path rec = s.dir / "rec.txt";
  // Two "ranks" that checkpoint-and-exit 130 on SIGINT; mpirun itself, like Open MPI's, would
  // SIGTERM them on SIGINT (recorded: the test expects it never happens).
  const std::string r = rec.string();
  const fs::path mpirun = s.script(
      "fake_mpirun.sh",
      "#!/bin/bash\n"
      "trap 'echo mpirun INT >> \"" + r + "\"; kill -TERM $p0 $p1' INT\n"
      "rank() { trap \"echo rank $1 INT >> '" + r + "'; exit 130\" INT; trap \"echo rank $1 TERM >> '" + r +
      "'; exit 143\" TERM;\n"
      "  echo rank $1 ready >> '" + r + "'; while :; do sleep 0.05; done; }\n"
      "rank 0 & p0=$!\nrank 1 & p1=$!\n"
      "wait $p0; c0=$?; wait $p1; c1=$?\n"
      "[ $c0 -ne 0 ] && exit $c0; exit $c1\n");
  const json spec_json = tiny_spec("stop", {{"ranks", {2}}, {"seed", {0, 1}}});
  std::ofstream(s.dir / "stop.json") << spec_json.dump();
  const fs::path out = s.dir / "sw";
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    std::string cli = NORMLAB_CLI_PATH, a1 = "sweep", a2 = (s.dir / "stop.json").string(), a3 = "--out",
                a4 = out.string(), a5 = "--mpirun", a6 = mpirun.string();
    char* argv[] = {cli.data(), a1.data(), a2.data(), a3.data(), a4.data(), a5.data(), a6.data(), nullptr};
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    execv(cli.c_str(), argv);
    _exit(127);
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto ready = [&] {
    int n = 0;
    for (const std::string& l : lines_of(rec)) n += contains(l, "ready");
    return n == 2;
  };
  int status = 0;
  while (!ready()) {
    if (waitpid(pid, &status, WNOHANG) == pid) FAIL("the sweep ended before its ranks started: " << status);
    if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(20)) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("the ranks did not start within 20 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGINT);
  waitpid(pid, &status, 0);
  const std::string log = read_text(rec);
  INFO(log);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(contains(log, "rank 0 INT"));
  CHECK(contains(log, "rank 1 INT"));
  CHECK(!contains(log, "mpirun INT"));
  CHECK(!contains(log, "TERM"));
  const json idx = lab::read_sweep_index(out.string());
  const json& runs = idx["experiments"][0]["runs"];
  CHECK(runs[0]["status"] == "interrupted");
  CHECK(runs[0]["exit_code"] == 130);
  CHECK(runs[1]["status"] == "pending");
}

TEST_CASE("sweep ranks: a real 2-rank run through Open MPI's mpirun starts both ranks with the run's arguments",
          "[lab][sweep][ranks][mpi]") {
  if (!test::mpi_available()) {
    WARN("skipped: normlab was built without MPI or mpirun is not installed");
    return;
  }
  const Scratch s("real");
  const fs::path rec = s.dir / "rec.txt";
  // Each rank records what it was started with, then is the real normlab.
  const fs::path normlab = s.script("normlab_rank.sh", "#!/bin/sh\n"
                                                      "printf 'rank %s of %s: %s\\n' \"$OMPI_COMM_WORLD_RANK\" "
                                                      "\"$OMPI_COMM_WORLD_SIZE\" \"$*\" >> '" +
                                                          rec.string() +
                                                          "'\n"
                                                          "ASAN_OPTIONS=detect_leaks=0; export ASAN_OPTIONS\n"
                                                          "exec '" + NORMLAB_CLI_PATH + "' \"$@\"\n");
  const lab::ExperimentSpec spec = load_spec(s, tiny_spec("real", {{"ranks", {2}}}));
  lab::SweepOptions opt;
  opt.out_dir = (s.dir / "sw").string();
  opt.normlab_exe = normlab.string();
  std::ostringstream out;
  opt.out = &out;
  // (A normlab without data parallelism may see its two trainings clash with a config error,
  // exit 2, which stops the sweep: kept and judged below.)
  lab::SweepResult res;
  std::string config_error;
  try {
    res = lab::run_sweep({spec}, opt);
  } catch (const ConfigError& e) {
    config_error = e.what();
  }
  const fs::path run = s.dir / "sw" / "real" / "ranks-2";
  INFO(out.str() << config_error << "\n" << read_text(run / "log.txt"));
  std::vector<std::string> lines = lines_of(rec);
  std::sort(lines.begin(), lines.end());
  const std::string args = "--threads 1 train " + run.string() + ".json --out " + run.string();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "rank 0 of 2: " + args);
  CHECK(lines[1] == "rank 1 of 2: " + args);
  // A data-parallel normlab (one that records "ranks" in summary.json) must complete the run as
  // one 2-rank training. A normlab without it runs two independent trainings into one folder
  // that clash: only the launch is checked then.
  std::ifstream in(run / "summary.json");
  const json summary = in ? json::parse(in, nullptr, false) : json();
  if (summary.is_object() && summary.contains("ranks")) {
    CHECK(summary["ranks"] == 2);
    CHECK(summary["status"] == "completed");
    CHECK(config_error.empty());
    CHECK(res.total == 1);
    CHECK(res.completed == 1);
  } else {
    WARN("this normlab does not train data-parallel yet: only the 2-rank launch was checked");
  }
}
