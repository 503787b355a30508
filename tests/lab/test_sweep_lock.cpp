// The sweep folder's lock (lab/sweep_lock.h): a second sweep in a folder whose sweep is alive
// is refused naming its pid; while only processes that inherited the lock from an ended sweep
// hold it (its runs, still checkpointing), a new sweep waits for them, or gives up after the
// wait naming the lock file.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "helpers.h"
#include "lab/sweep_lock.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

fs::path lock_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("normlab_test_sweep_lock_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

}  // namespace

TEST_CASE("sweep lock: a live sweep in the folder is refused naming its pid", "[lab][sweep][sweep_lock]") {
  const fs::path dir = lock_dir("live");
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  const pid_t holder = fork();
  if (holder == 0) {  // a sweep: takes the lock and runs on
    lab::SweepLock lock(dir.string(), 0, {});
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  char c;
  REQUIRE(read(ready[0], &c, 1) == 1);
  const std::string pid = "pid " + std::to_string(holder), where = dir.string();
  REQUIRE_THROWS_MENTIONING(lab::SweepLock(dir.string(), 5, {}), "another normlab sweep", pid.c_str(), where.c_str());
  kill(holder, SIGKILL);
  waitpid(holder, nullptr, 0);
  // Its lock went with it (no child inherited it): the next sweep takes it at once.
  lab::SweepLock lock(dir.string(), 0, {});
  CHECK_FALSE(lock.waited());
  close(ready[0]);
  close(ready[1]);
  fs::remove_all(dir);
}

TEST_CASE("sweep lock: the runs of a killed sweep are waited for", "[lab][sweep][sweep_lock]") {
  const fs::path dir = lock_dir("orphan");
  auto killed_sweep_with_run = [&](int run_ms) {
    const pid_t sweep = fork();
    if (sweep == 0) {
      lab::SweepLock lock(dir.string(), 0, {});
      if (fork() == 0) {  // its run: inherited the lock, still checkpointing for run_ms
        std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
        _exit(0);
      }
      _exit(0);  // the sweep dies first
    }
    waitpid(sweep, nullptr, 0);
  };
  killed_sweep_with_run(400);
  std::string noted;
  const auto t0 = std::chrono::steady_clock::now();
  {
    lab::SweepLock lock(dir.string(), 10, [&](const std::string& m) { noted += m; });
    CHECK(lock.waited());
    CHECK(noted.find("waiting for the runs of an earlier sweep") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(200));
  }
  // A run that does not stop: the wait ends with an error naming the lock file.
  killed_sweep_with_run(3000);
  const std::string lock_file = (dir / ".lock").string();
  REQUIRE_THROWS_MENTIONING(lab::SweepLock(dir.string(), 0.3, {}), lock_file.c_str(), "still hold");
  fs::remove_all(dir);
}
