// Kill-safe sweeps: a real `normlab sweep --jobs 2` of a tiny grid (the adding problem, six runs
// of a few hundred ms) is killed with SIGKILL (its whole process group) at seeded random
// moments, at least 20 times, some of them while a run writes a checkpoint or the sweep writes
// its index, and every other time together with its training processes (as a machine-wide kill
// would); the same command is rerun at once each time until it finishes. Checked: every
// checkpoint on disk loads after each kill; no training process outlives its killed sweep by
// more than a few seconds (they get SIGINT when the sweep dies and checkpoint); in the end
// sweep.json lists every run exactly once, completed, the last session counts each run once,
// and every run's metrics.jsonl (no torn or repeated lines), final metrics and weights are
// bit-identical to an uninterrupted sweep of the same spec.
// Run it alone with: build/bin/normlab_tests "[sweep_kill]"   (about 5 s)
#include "test_paths.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "run_records.h"
#include "lab/sweep.h"
#include "train/checkpoint.h"

using namespace nl;
using nl::test::strict_records;
using nl::test::without_timing;
namespace fs = std::filesystem;
using nl::test::read_text;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSteps = 1500;
constexpr int kKills = 20;
constexpr double kOrphanGrace = 10.0;  // seconds a training process may outlive its killed sweep

json kill_spec() {
  json s = json::parse(R"({
    "name": "killme",
    "base": {
      "seed": 0,
      "data": {"type": "adding", "train_size": 64, "val_size": 16, "test_size": 16,
               "min_length": 4, "max_length": 6},
      "model": {"type": "rnn_regressor", "hidden_size": 8},
      "optim": {"type": "adam", "lr": 0.01},
      "train": {"batch_size": 16, "log_interval": 10, "eval_batches": 1, "checkpoint_interval": 25}
    },
    "grid": {"optim.lr": [0.01, 0.003], "seed": [0, 1, 2]},
    "metrics": {"test_mse": {"path": "test.mse", "higher_is_better": false}}
  })");
  s["base"]["train"]["steps"] = kSteps;
  s["base"]["train"]["eval_interval"] = kSteps / 2;
  return s;
}

// Starts `normlab sweep SPEC --out OUT --jobs 2` in its own process group, output to io_dir.
pid_t spawn_sweep(const fs::path& spec, const fs::path& out, const fs::path& io_dir) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int o = open((io_dir / "sweep.out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open((io_dir / "sweep.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
    std::string cli = NORMLAB_CLI_PATH, cmd = "sweep", s = spec.string(), o1 = "--out", o2 = out.string(),
                j1 = "--jobs", j2 = "2", t1 = "--run-threads", t2 = "1";
    char* argv[] = {cli.data(), cmd.data(), s.data(), o1.data(), o2.data(), j1.data(), j2.data(),
                    t1.data(), t2.data(), nullptr};
    execv(cli.c_str(), argv);
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

bool exited(pid_t pid, int* code) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return false;
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return true;
}

// A live (not zombie) process other than this one: its command line ('\0' -> ' ') and parent.
struct Process {
  std::string cmdline;
  pid_t parent = 0;
};

// Live processes whose command line contains `needle`.
std::map<pid_t, Process> command_lines_mentioning(const std::string& needle) {
  std::map<pid_t, Process> found;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == getpid()) continue;
    std::string cmdline = read_text(e.path() / "cmdline");
    for (char& c : cmdline)
      if (c == '\0') c = ' ';
    if (cmdline.find(needle) == std::string::npos) continue;
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so parse after ')'.
    const std::string stat = read_text(e.path() / "stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z') continue;
    found[pid] = Process{cmdline, static_cast<pid_t>(std::atol(stat.c_str() + paren + 4))};
  }
  return found;
}

std::set<pid_t> processes_mentioning(const std::string& needle) {
  std::set<pid_t> pids;
  for (const auto& [pid, process] : command_lines_mentioning(needle)) pids.insert(pid);
  return pids;
}

// Whether any file under `dir` is a temporary being written (checkpoint or index).
bool writing_something(const fs::path& dir) {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().find(".tmp") != std::string::npos) return true;
  return false;
}

// Whether a run of the sweep has logged a metrics record yet.
bool logged_something(const fs::path& exp_dir, const std::vector<lab::RunSpec>& runs) {
  std::error_code ec;
  for (const lab::RunSpec& r : runs)
    if (fs::file_size(exp_dir / r.id / "metrics.jsonl", ec) > 0 && !ec) return true;
  return false;
}

// Runs whose summary.json says completed (a run stopped by SIGINT writes "interrupted").
int count_summaries(const fs::path& exp_dir) {
  int n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(exp_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (!fs::exists(it->path() / "summary.json")) continue;
    const json s = json::parse(read_text(it->path() / "summary.json"), nullptr, false);
    n += s.is_object() && s.value("status", "") == "completed";
  }
  return n;
}


}  // namespace

TEST_CASE("reading /proc of a process that exits after the open gives no text, not an exception",
          "[lab][sweep]") {
  // What the scan above meets when it races a kill: the open succeeds, the read fails (ESRCH).
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
  REQUIRE(stat.is_open());
  kill(child, SIGKILL);
  REQUIRE(waitpid(child, nullptr, 0) == child);
  std::string text = "unset";
  REQUIRE_NOTHROW(text = nl::test::read_rest(stat));
  REQUIRE(text.empty());
}

TEST_CASE("kill-safe sweep: SIGKILL the sweep at random moments, rerun, every run once and bit-identical",
          "[lab][sweep][kill][sweep_kill]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_sweep_kill_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path spec = dir / "killme.json";
  std::ofstream(spec) << kill_spec().dump(2);
  const std::vector<lab::RunSpec> runs = lab::expand_grid(lab::load_experiment(spec.string()));
  REQUIRE(runs.size() == 6);

  // The uninterrupted reference, timed to scale the kill delays: t_first is the start-up (until
  // a run has logged its first metrics: the sweep's and the training process's), t_ref the
  // whole sweep.
  const fs::path ref = dir / "ref";
  const auto t0 = Clock::now();
  int code = -2;
  double t_first = -1;
  const pid_t ref_pid = spawn_sweep(spec, ref, dir);
  while (!exited(ref_pid, &code)) {
    if (t_first < 0 && logged_something(ref / "killme", runs))
      t_first = std::chrono::duration<double>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  INFO(read_text(dir / "sweep.out") << read_text(dir / "sweep.err"));
  REQUIRE(code == 0);
  const double t_ref = std::chrono::duration<double>(Clock::now() - t0).count();
  if (t_first < 0) t_first = t_ref / 10;

  const fs::path out = dir / "killed";
  const fs::path exp_dir = out / "killme";
  // How far the sweep is, 0..1: finished runs count whole, others by their checkpoint's step;
  // near_end: an unfinished run is past 80%. Loading every checkpoint also checks that each one
  // on disk is whole after a kill.
  bool near_end = false;
  auto progress = [&] {
    double p = 0;
    near_end = false;
    for (const lab::RunSpec& r : runs) {
      const fs::path rd = exp_dir / r.id;
      const json summary = json::parse(read_text(rd / "summary.json"), nullptr, false);
      if (summary.is_object() && summary.value("status", "") == "completed") {
        p += 1;
      } else if (fs::exists(rd / "checkpoint.safetensors")) {
        int64_t step = -1;
        INFO("checkpoint of " << r.id);
        REQUIRE_NOTHROW(step = load_checkpoint((rd / "checkpoint.safetensors").string()).step);
        p += static_cast<double>(step) / kSteps;
        near_end = near_end || step >= kSteps * 4 / 5;
      }
    }
    return p / static_cast<double>(runs.size());
  };

  std::mt19937_64 rng(20261203);
  std::map<pid_t, Clock::time_point> orphans;  // training processes of killed sweeps, still alive
  double longest_orphan = 0;
  // Two training processes in one run folder at once (an orphan still checkpointing while the
  // rerun sweep starts the same run) could interleave their writes.
  int overlaps = 0;
  int tracer_sightings = 0;  // tasks cloned by an orphan itself (LeakSanitizer's tracer at exit)
  auto check_orphans = [&] {
    const std::map<pid_t, Process> alive = command_lines_mentioning(out.string());
    for (auto it = orphans.begin(); it != orphans.end();) {
      const double age = std::chrono::duration<double>(Clock::now() - it->second).count();
      if (!alive.count(it->first)) {
        longest_orphan = std::max(longest_orphan, age);
        it = orphans.erase(it);
        continue;
      }
      for (const lab::RunSpec& r : runs) {
        const std::string run_dir = (exp_dir / r.id).string() + " ";
        if (alive.at(it->first).cmdline.find(run_dir) == std::string::npos) continue;
        for (const auto& [pid, process] : alive) {
          // A task the orphan cloned is part of it, not a second trainer: LeakSanitizer's leak
          // check at exit clones a tracer that shares the process's memory, hence its command
          // line (and its file table, hence the lock).
          if (pid == it->first || orphans.count(pid)) continue;
          if (process.cmdline.find(run_dir) == std::string::npos) continue;
          if (process.parent == it->first) {
            ++tracer_sightings;
            continue;
          }
          ++overlaps;
          std::printf("overlap: orphan %d and new process %d (parent %d) both run %s\n", it->first, pid,
                      process.parent, r.id.c_str());
        }
      }
      INFO("training process " << it->first << " outlived its killed sweep by " << age << " s");
      REQUIRE(age < kOrphanGrace);
      ++it;
    }
  };

  // The share of the reference's metrics records the killed sweep has logged, 0..1 (a
  // resumed run's file is cut back to its checkpoint).
  std::map<std::string, double> ref_sizes;
  double ref_total = 0;
  for (const lab::RunSpec& r : runs) ref_total += ref_sizes[r.id] = static_cast<double>(fs::file_size(ref / "killme" / r.id / "metrics.jsonl"));
  auto logged = [&](const fs::path& exp) {
    double n = 0;
    std::error_code ec;
    for (const lab::RunSpec& r : runs) {
      const auto size = fs::file_size(exp / r.id / "metrics.jsonl", ec);
      if (!ec) n += std::min(static_cast<double>(size), ref_sizes[r.id]);
    }
    return n / ref_total;
  };
  auto last_orphan_check = Clock::now();

  int kills = 0, tmp_kills = 0, summary_kills = 0, tree_kills = 0, sessions = 0;
  std::vector<int> percent_after_kill;
  for (;;) {
    REQUIRE(sessions < 200);
    ++sessions;
    (void)progress();
    const pid_t pid = spawn_sweep(spec, out, dir);
    if (kills >= kKills) {  // enough: let it finish
      while (!exited(pid, &code)) {
        if (!orphans.empty()) check_orphans();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      break;
    }
    // Most kills come once the sweep has done a random share of the remaining work (measured by
    // the metrics the runs have logged, so that the kills spread over the sweep however loaded
    // the machine is); every fifth during start-up (a random delay shorter than the time the
    // reference took to log its first metrics). Every sixth waits for a moment of writing: a
    // temporary file (a checkpoint or sweep.json being written); and the first three times a run
    // is near its end, the kill waits for its summary.json to appear (a run just finished; the
    // sweep may not have indexed it yet).
    const double q0 = logged(exp_dir);
    const double share = std::uniform_real_distribution<double>(0.0, 1.0)(rng) * 1.5 * std::max(1.0 - q0, 0.02) /
                         std::max(1, 22 - kills);
    const bool at_startup = kills % 5 == 0;
    const bool at_summary = near_end && summary_kills < 3 && kills % 5 != 0 && kills % 6 != 2;
    const bool at_event = kills % 6 == 2 || at_summary;
    const double startup_delay = std::uniform_real_distribution<double>(0.0, t_first)(rng);
    const auto t_session = Clock::now();
    const auto deadline = t_session + std::chrono::duration<double>(at_startup ? startup_delay : t_first + 0.5 * (t_ref - t_first));
    const int summaries = count_summaries(exp_dir);
    bool killed = false;
    while (!exited(pid, &code)) {
      bool now = Clock::now() >= deadline;
      bool tmp = false, summary = false;
      if (at_event && !now) {
        if (at_summary)
          summary = count_summaries(exp_dir) > summaries;
        else
          tmp = writing_something(out);
        now = tmp || summary;
      } else if (!at_startup && !now) {
        now = logged(exp_dir) >= q0 + share;
      }
      if (now) {
        // The children of the sweep, seen before it dies (they run in their own groups).
        std::set<pid_t> children = processes_mentioning(out.string());
        children.erase(pid);
        kill(-pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        if (kills % 2 == 1) {  // a machine-wide kill: the training processes die too
          for (pid_t c : children) kill(c, SIGKILL);
          ++tree_kills;
        }
        tmp_kills += tmp;
        summary_kills += summary;
        killed = true;
        break;
      }
      if (!orphans.empty() && Clock::now() - last_orphan_check > std::chrono::milliseconds(2)) {
        check_orphans();
        last_orphan_check = Clock::now();
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    if (!killed) {
      INFO("session " << sessions << " exit code " << code << ": " << read_text(dir / "sweep.out")
                      << read_text(dir / "sweep.err"));
      REQUIRE(code == 0);
      FAIL("the sweep finished after only " << kills << " kills; the kill delays are too long");
    }
    ++kills;
    // Whatever the sweep left: its training processes may still be checkpointing.
    for (pid_t c : processes_mentioning(out.string())) orphans.emplace(c, Clock::now());
    // The index on disk is whole (it is rewritten by tmp + rename).
    if (fs::exists(out / "sweep.json")) REQUIRE_NOTHROW(lab::read_sweep_index(out.string()));
    percent_after_kill.push_back(static_cast<int>(100 * progress()));
  }
  const std::string final_out = read_text(dir / "sweep.out");
  INFO("final session: " << final_out << read_text(dir / "sweep.err"));
  REQUIRE(code == 0);
  const auto wait_end = Clock::now() + std::chrono::duration<double>(kOrphanGrace);
  while (!orphans.empty() && Clock::now() < wait_end) {
    check_orphans();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  check_orphans();
  CHECK(orphans.empty());
  CHECK(processes_mentioning(out.string()).empty());
  CHECK(overlaps == 0);
  std::printf("kill-safe sweep: %d kills (%d while writing a temporary, %d as a summary appeared, %d with the "
              "training processes) in %d sessions; uninterrupted sweep %.2f s; longest orphan %.2f s; %d overlaps "
              "(%d sightings of a task the orphan cloned, ignored); %% done after each kill:",
              kills, tmp_kills, summary_kills, tree_kills, sessions, t_ref, longest_orphan, overlaps, tracer_sightings);
  for (int x : percent_after_kill) std::printf(" %d", x);
  std::printf("\n");
  std::fflush(stdout);
  CHECK(kills >= kKills);

  // The last session counted each run once: completed here or skipped as finished before.
  int completed = -1, skipped = -1;
  const size_t at = final_out.find("sweep done: ");
  REQUIRE(at != std::string::npos);
  REQUIRE(std::sscanf(final_out.c_str() + at, "sweep done: %d completed, 0 diverged, 0 failed, %d skipped", &completed,
                      &skipped) == 2);
  CHECK(completed + skipped == 6);

  // sweep.json: every run exactly once, completed.
  const json idx = lab::read_sweep_index(out.string());
  REQUIRE(idx["experiments"].size() == 1);
  std::map<std::string, int> listed;
  for (const json& r : idx["experiments"][0]["runs"]) {
    ++listed[r["id"].get<std::string>()];
    CHECK(r["status"] == "completed");
  }
  REQUIRE(listed.size() == runs.size());
  for (const lab::RunSpec& r : runs) CHECK(listed[r.id] == 1);

  // Every run bit-identical to the uninterrupted sweep's.
  for (const lab::RunSpec& r : runs) {
    INFO("run " << r.id);
    const fs::path a = ref / "killme" / r.id, b = exp_dir / r.id;
    const json sa = json::parse(read_text(a / "summary.json")), sb = json::parse(read_text(b / "summary.json"));
    CHECK(sb["status"] == "completed");
    CHECK(without_timing(sa["final"]) == without_timing(sb["final"]));
    const std::vector<json> ra = strict_records(a / "metrics.jsonl"), rb = strict_records(b / "metrics.jsonl");
    CHECK(ra == rb);
    for (size_t i = 1; i < rb.size(); ++i) CHECK(rb[i] != rb[i - 1]);
    const Checkpoint ca = load_checkpoint((a / "checkpoint.safetensors").string());
    const Checkpoint cb = load_checkpoint((b / "checkpoint.safetensors").string());
    CHECK(cb.step == kSteps);
    REQUIRE(ca.model.size() == cb.model.size());
    for (size_t i = 0; i < ca.model.size(); ++i)
      CHECK(std::memcmp(ca.model[i].second.data(), cb.model[i].second.data(),
                        ca.model[i].second.numel() * sizeof(float)) == 0);
    for (const auto& e : fs::directory_iterator(b))
      CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  }
  fs::remove_all(dir);
}
