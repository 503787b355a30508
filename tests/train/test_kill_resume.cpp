// Kill-safe runs: a real `normlab train` is killed with SIGKILL at random (seeded) moments,
// at least 20 times, some of them while a checkpoint is being written, and resumed with
// `train --resume` each time (the first kill comes before the first checkpoint). Checked: the checkpoint on disk always loads; the finished run's
// weights, optimizer state, metrics.jsonl records and final metrics are bit-identical to an
// uninterrupted run of the same config; metrics.jsonl has no duplicated or torn lines.
// Run it alone with: build/bin/normlab_tests "[kill]"   (about 5 s)
#include "test_paths.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "helpers.h"
#include "run_records.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

json kill_config() {
  return json::parse(R"({
    "seed": 3,
    "data": {"type": "adding", "train_size": 512, "val_size": 64, "test_size": 64,
             "min_length": 10, "max_length": 30},
    "model": {"type": "rnn_regressor", "hidden_size": 32},
    "optim": {"type": "adam", "lr": 0.01},
    "train": {"steps": 1500, "batch_size": 16, "log_interval": 3, "eval_interval": 50,
              "eval_batches": 2, "checkpoint_interval": 7}
  })");
}

pid_t spawn(const std::vector<std::string>& args) {
  std::fflush(nullptr);  // the child must not print the parent's buffered output
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> copy = args;
    std::string cli = NORMLAB_CLI_PATH;
    std::vector<char*> argv{cli.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for the child; returns its exit code (-1 if it was signalled).
int reap(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Whether the child has exited (then *code holds its exit code).
bool exited(pid_t pid, int* code) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return false;
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return true;
}


void require_same_tensors(const NamedTensors& a, const NamedTensors& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("tensor " << a[i].first);
    REQUIRE(a[i].first == b[i].first);
    REQUIRE(a[i].second.shape() == b[i].second.shape());
    CHECK(std::memcmp(a[i].second.data(), b[i].second.data(), a[i].second.numel() * sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("kill-safe: SIGKILL at random moments, resume, result bit-identical", "[train][cli][kill]") {
  const fs::path dir = fresh_dir("kill");
  fs::create_directories(dir);
  const fs::path cfg = dir / "cfg.json";
  std::ofstream(cfg) << kill_config().dump(2);
  const std::vector<std::string> common = {"--quiet", "--threads", "1"};
  auto with = [&](std::vector<std::string> a) {
    a.insert(a.end(), common.begin(), common.end());
    return a;
  };

  // The uninterrupted reference, timed to scale the kill delays.
  const fs::path ref = dir / "ref";
  const auto t0 = Clock::now();
  REQUIRE(reap(spawn(with({"train", cfg.string(), "--out", ref.string()}))) == 0);
  const double t_ref = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t total = kill_config()["train"]["steps"].get<int64_t>();

  const fs::path run = dir / "run";
  const fs::path ck_path = run / "checkpoint.safetensors";
  std::mt19937_64 rng(20240611);
  int kills = 0, ckpt_kills = 0, sessions = 0;
  std::vector<int64_t> kill_steps;  // the checkpoint's step after each kill
  bool done = false;
  while (!done) {
    REQUIRE(sessions < 300);
    ++sessions;
    const bool resumable = fs::exists(ck_path) || fs::exists(run / "config.json");
    const pid_t pid = spawn(with(resumable ? std::vector<std::string>{"train", "--resume", run.string()}
                                           : std::vector<std::string>{"train", cfg.string(), "--out", run.string()}));
    int code = 0;
    if (kills >= 20) {  // enough: let the run finish
      code = reap(pid);
      INFO("final session exit code " << code);
      REQUIRE(code == 0);
      done = true;
      break;
    }
    // Every third kill waits for a checkpoint write to start; the others come after a random
    // delay scaled so that the kills spread over the remaining steps.
    const int64_t at = fs::exists(ck_path) ? load_checkpoint(ck_path.string()).step : 0;
    bool killed = false;
    if (kills % 3 == 2) {
      const fs::path tmp = run / ("checkpoint.safetensors.tmp-" + std::to_string(pid));
      const auto deadline = Clock::now() + std::chrono::seconds(20);
      while (!exited(pid, &code)) {
        if (fs::exists(tmp) || Clock::now() > deadline) {
          kill(pid, SIGKILL);
          reap(pid);
          killed = true;
          ckpt_kills += fs::exists(tmp);
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    } else {
      const double remaining = 1.0 - static_cast<double>(at) / static_cast<double>(total);
      // The first kill comes early (before the first checkpoint, or during start-up).
      const double max_delay = kills == 0 ? 0.05 : 2.0 * t_ref * std::max(remaining, 0.05) / std::max(1, 22 - kills);
      const auto deadline = Clock::now() + std::chrono::duration<double>(
                                               std::uniform_real_distribution<double>(0.0, max_delay)(rng));
      while (!exited(pid, &code)) {
        if (Clock::now() >= deadline) {
          kill(pid, SIGKILL);
          reap(pid);
          killed = true;
          break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    if (!killed) {  // finished before the kill came
      INFO("session " << sessions << " exit code " << code << " after " << kills << " kills");
      REQUIRE(code == 0);
      FAIL("the run finished after only " << kills << " kills; the kill delays are too long");
    }
    ++kills;
    // (a) whatever is on disk now loads.
    int64_t now = 0;
    if (fs::exists(ck_path)) REQUIRE_NOTHROW(now = load_checkpoint(ck_path.string()).step);
    kill_steps.push_back(now);
  }
  INFO(kills << " kills (" << ckpt_kills << " during a checkpoint write) in " << sessions << " sessions");
  std::printf("kill-safe: %d kills (%d during a checkpoint write) in %d sessions; uninterrupted run %.2f s; "
              "checkpoint step after each kill:", kills, ckpt_kills, sessions, t_ref);
  for (int64_t s : kill_steps) std::printf(" %lld", static_cast<long long>(s));
  std::printf(" of %lld\n", static_cast<long long>(total));
  std::fflush(stdout);
  CHECK(kills >= 20);
  CHECK(ckpt_kills >= 3);

  // (b) bit-identical to the uninterrupted run: weights, optimizer state, step, final metrics.
  const Checkpoint a = load_checkpoint((ref / "checkpoint.safetensors").string());
  const Checkpoint b = load_checkpoint(ck_path.string());
  CHECK(a.step == total);
  CHECK(b.step == total);
  require_same_tensors(a.model, b.model);
  require_same_tensors(a.optim, b.optim);
  const json sa = json::parse(read_text(ref / "summary.json")), sb = json::parse(read_text(run / "summary.json"));
  CHECK(sb["status"] == "completed");
  CHECK(without_timing(sa["final"]) == without_timing(sb["final"]));
  // (c) metrics.jsonl: every line whole, no record twice, the same records as the reference.
  const std::vector<json> ra = strict_records(ref / "metrics.jsonl"), rb = strict_records(run / "metrics.jsonl");
  CHECK(ra.size() == rb.size());
  CHECK(ra == rb);
  for (size_t i = 1; i < rb.size(); ++i) CHECK(rb[i] != rb[i - 1]);
  // No temporary files left behind.
  for (const auto& e : fs::directory_iterator(run))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  fs::remove_all(dir);
}
