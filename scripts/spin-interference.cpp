// What a spinning thread on the other core costs a single-threaded training step, when the
// spinner is a thread of the same process (as a pool worker waiting for its next job is) and
// when it is another process (docs/performance-history.md, sixteenth round). The step runs at
// 1 thread, alternated group by group (about 20 ms of steps each) with no spinner, a spinning
// thread, and a spinning child process; the spinner does what a pool worker's spin does (pause,
// read the clock) for the whole group, on the other core (the only idle one of two).
// Build and run (each figure is a median over the rounds; about a minute):
//   g++ -O2 -std=c++20 -I. scripts/spin-interference.cpp build/libnormlab.a -lopenblas -lz -lpthread $(pkg-config --libs ompi) -o /tmp/spin-interference
//   /tmp/spin-interference [rounds] [workload ...]      (default: 15 rounds; rnn_ln_b4 mlp lm_tiny)
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "core/threading.h"
#include "train/workloads.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

const nl::ReferenceWorkload& find_workload(const std::vector<nl::ReferenceWorkload>& all,
                                           const std::string& name) {
  for (const auto& w : all)
    if (w.name == name) return w;
  std::fprintf(stderr, "unknown workload '%s'\n", name.c_str());
  std::exit(2);
}

void spin_like_a_worker_while(const std::atomic<bool>& spin) {
  while (spin.load(std::memory_order_relaxed)) {
    __builtin_ia32_pause();
    (void)Clock::now();
  }
}

enum class Spinner { none, thread, process };

// The spinning process: forked at the start, before the workloads exist (a child forked later
// would share their pages copy-on-write, and every page the step writes would fault once),
// then told through a pipe to spin until the shared flag drops.
struct SpinningProcess {
  std::atomic<bool>* spin = nullptr;  // in memory shared with the child
  int to_child = -1;
  pid_t pid = -1;

  void start() {
    void* shared = mmap(nullptr, sizeof(std::atomic<bool>), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int fds[2];
    if (shared == MAP_FAILED || pipe(fds) != 0) {
      std::perror("spin-interference: the spinning process");
      std::exit(3);
    }
    spin = new (shared) std::atomic<bool>(false);
    pid = fork();
    if (pid < 0) {
      std::perror("spin-interference: fork");
      std::exit(3);
    }
    if (pid == 0) {
      close(fds[1]);
      char go;
      while (read(fds[0], &go, 1) == 1) spin_like_a_worker_while(*spin);
      _exit(0);
    }
    close(fds[0]);
    to_child = fds[1];
  }
  void begin() {
    spin->store(true);
    const char go = 1;
    if (write(to_child, &go, 1) != 1) std::exit(3);
  }
  void end() { spin->store(false); }
  ~SpinningProcess() {
    if (pid > 0) {
      close(to_child);
      waitpid(pid, nullptr, 0);
    }
  }
};

SpinningProcess spinning_process;

// ms per step over `steps` steps, with the given spinner running on the other core meanwhile.
double time_group(nl::WorkloadRunner& runner, int steps, Spinner spinner) {
  std::atomic<bool> spin{true};
  std::thread thread;
  if (spinner == Spinner::thread) thread = std::thread([&] { spin_like_a_worker_while(spin); });
  if (spinner == Spinner::process) spinning_process.begin();
  std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let the spinner start
  const auto t0 = Clock::now();
  for (int s = 0; s < steps; ++s) runner.step();
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count() / steps;
  spin = false;
  if (thread.joinable()) thread.join();
  if (spinner == Spinner::process) spinning_process.end();
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  spinning_process.start();
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
  std::vector<std::string> names;
  for (int i = 2; i < argc; ++i) names.push_back(argv[i]);
  if (names.empty()) names = {"rnn_ln_b4", "mlp", "lm_tiny"};
  const auto all = nl::reference_workloads();
  nl::set_num_threads(1);
  std::printf("a step at 1 thread, alone or beside a spinner on the other core; median ms per step\n"
              "over %d rounds, the three alternated in rotated order\n",
              rounds);
  for (const auto& name : names) {
    nl::WorkloadRunner runner(find_workload(all, name));
    const auto t0 = Clock::now();
    runner.step();
    const double one = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    const int steps = std::max(3, static_cast<int>(20.0 / std::max(one, 1e-3)));
    for (int s = 0; s < steps; ++s) runner.step();  // warm-up
    std::vector<double> ms[3];
    for (int r = 0; r < rounds; ++r)
      for (int k = 0; k < 3; ++k) {
        const int which = (k + r) % 3;
        ms[which].push_back(time_group(runner, steps, static_cast<Spinner>(which)));
      }
    const double alone = median(ms[0]), thread = median(ms[1]), process = median(ms[2]);
    std::printf("  %-10s alone %7.3f ms | spinning thread %7.3f ms (%.2fx) | spinning process "
                "%7.3f ms (%.2fx)\n",
                name.c_str(), alone, thread, thread / alone, process, process / alone);
  }
}
