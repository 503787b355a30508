#include "core/threading.h"

#include <cblas.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"

// Exported by OpenBLAS (0.3.x, pthread and OpenMP builds) but not declared in cblas.h.
extern "C" {
void openblas_read_env(void);
int blas_thread_shutdown_(void);
}

namespace nl {
namespace {

// After each threaded sgemm OpenBLAS's workers spin (sched_yield) for OPENBLAS_THREAD_TIMEOUT
// (default 2^28 cycles) before sleeping, while our pool's worker wants the same core. The variable
// is read when libopenblas loads, before main: so unless the user set it, set it to its minimum
// (2^4 cycles), make OpenBLAS read its environment again, and stop its threads; they restart with
// the new timeout at the next threaded call. Measured in docs/performance-history.md, second round
// (step 7).
void shorten_openblas_spin() {
  if (std::getenv("OPENBLAS_THREAD_TIMEOUT")) return;  // the user's choice stands
  setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
  openblas_read_env();
  blas_thread_shutdown_();
}

// Whether this thread is running a pool task (a worker, or the caller during run()).
thread_local bool t_in_job = false;

// Jobs in which a pool worker ran at least one chunk (pool_worker_jobs()).
std::atomic<uint64_t> worker_jobs{0};

// What OpenBLAS was last told by set_num_threads or choose_blas_threads.
std::atomic<int> blas_threads_now{0};

// How long the caller of a parallel_for spins for its workers before it sleeps.
constexpr std::chrono::microseconds kCallerSpin{50};
// How long a worker spins for the next job before it sleeps. A spinning worker starts a job within
// ~1 µs; one woken through the condition variable starts after ~12 µs when it slept for less than
// ~0.3 ms, and after 42-80 µs when it slept longer (this machine's idle core goes into a deeper
// sleep; scripts/pool-pair.cpp, part 1; docs/performance-history.md, eleventh round). In a training
// step at 2 threads the pool's jobs come every few µs in an RNN's time loop, but up to ~0.5 ms
// apart in an MLP (its single-threaded forward products between Adam's update and the first
// sgemm_pair of the backward): 50 µs of spin made that pair wait for a sleeping worker and gain
// nothing; 1 ms made it pay. The spin stops at once when a threaded GEMM wants the core
// (blas_wants_cores), and a worker spins at most 1 ms after its last job before it sleeps.
constexpr std::chrono::microseconds kWorkerSpin{1000};
// Threads taking turns. When the pool's threads cannot run at the same time — bound to one CPU
// (`taskset -c 0` with --threads 2), or on a shared host in a stretch where its second CPU is
// hardly ever given to this VM — every parallel_for costs more than the whole job on one thread:
// the caller runs its chunk, spins kCallerSpin for a worker that cannot run, sleeps, and only
// then the worker runs its chunk (measured on the Ice Lake host, thirty-fourth round: BatchNorm
// fwd+bwd 2048x128 0.87-1.13 ms at 2 threads on one CPU against 0.285 ms at 1 thread; in a
// far-apart stretch of that host 0.926 ms on two CPUs). The caller notices: when no worker has
// started by the end of its spin, kLateJobs jobs in a row, it runs every job inline (its chunks in
// order on the caller: the same bits) for a window of kInlineWindow, and the workers sleep as
// soon as a job is done rather than spin on the core the caller waits for. The first job after a
// window goes to the workers again with a longer spin, kProbeSpin, beyond the ~80 µs a sleeping
// worker takes to wake on a free CPU: if no worker starts within it the next window is twice as
// long (up to kMaxDoublings times), else the pool is back to normal. On two free CPUs a spinning
// worker starts within ~1 µs; a sleeping one within 12-80 µs, which can exceed a short job's
// chunk plus kCallerSpin once, but hardly kLateJobs times in a row (a worker woken by a job spins
// for the next one).
constexpr int kLateJobs = 3;
constexpr std::chrono::microseconds kProbeSpin{250};
constexpr std::chrono::milliseconds kInlineWindow{20};
constexpr int kMaxDoublings = 4;  // windows of 20, 40, 80, 160, 320 ms
// Jobs run on the caller alone in those windows so far (pool_inline_jobs()).
std::atomic<uint64_t> inline_jobs{0};
// Set while the threads take turns: a worker then sleeps as soon as its chunk is done.
std::atomic<bool> workers_nap{false};

// Set by choose_blas_threads before a GEMM that OpenBLAS will thread, cleared by the next
// parallel_for: a spinning worker then goes to sleep at once, leaving its core to OpenBLAS.
std::atomic<bool> blas_wants_cores{false};

// A pause in a spin-wait loop (tells the core it is spinning).
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// A small fixed pool: the caller runs chunk 0, workers run the others. Between jobs a worker
// spins up to kWorkerSpin for the next one, then sleeps on a condition variable; it stops
// spinning at once when a threaded GEMM is about to start (blas_wants_cores), so it never
// competes with OpenBLAS's threads. With one thread there are no workers.
class Pool {
 public:
  explicit Pool(int threads) { resize(threads); }
  ~Pool() { stop_workers(); }

  int size() const { return threads_; }

  void resize(int threads) {
    stop_workers();
    threads_ = std::max(1, threads);
    stopping_ = false;
    // New workers, new circumstances: the turn-taking rule starts afresh.
    late_in_a_row_ = 0;
    inline_until_ = {};
    workers_nap = false;
    // New workers start from the current generation: jobs that ran before they existed are
    // not theirs (starting from 0 made a fresh worker run a finished job's null task).
    for (int i = 1; i < threads_; ++i)
      workers_.emplace_back([this, i, gen = generation_.load()] { worker_loop(i, gen); });
  }

  void run(int chunks, const std::function<void(int)>& task) {
    if (chunks <= 1 || threads_ == 1 || t_in_job) {
      for (int c = 0; c < chunks; ++c) task(c);
      return;
    }
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    if (start < inline_until_) {  // the threads were taking turns (see kLateJobs)
      inline_jobs.fetch_add(1, std::memory_order_relaxed);
      // Each chunk runs as a pool task would (t_in_job: nested loops and GEMMs inside it stay
      // whole), so the results are the pool's bit for bit.
      t_in_job = true;
      struct Reset {
        ~Reset() { t_in_job = false; }
      } reset;
      for (int c = 0; c < chunks; ++c) task(c);
      return;
    }
    blas_wants_cores.store(false, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(mu_);
      task_ = &task;
      chunks_ = chunks;
      remaining_ = chunks - (chunks + threads_ - 1) / threads_;  // chunks not run by the caller
      worker_start_ = Clock::time_point::max();
      ++generation_;
    }
    cv_.notify_all();
    t_in_job = true;
    // The caller takes chunks 0, threads_, 2*threads_, ... An exception is held until every
    // worker is done with `task` (it lives on our caller's stack), then rethrown here.
    std::exception_ptr error;
    try {
      for (int c = 0; c < chunks; c += threads_) task(c);
    } catch (...) {
      error = std::current_exception();
    }
    t_in_job = false;
    const Clock::time_point own_done = Clock::now();
    // Wait for the workers: first briefly on this (otherwise idle) core, since being woken from
    // a condition variable takes ~15 µs on this machine, about what a whole chunk of most loops
    // takes; then asleep. Only the caller spins (its own core, no other thread wants it).
    const auto spin = late_in_a_row_ >= kLateJobs ? kProbeSpin : kCallerSpin;
    const auto spin_until = own_done + spin;
    while (remaining_.load(std::memory_order_acquire) != 0 && std::chrono::steady_clock::now() < spin_until)
      cpu_relax();
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return remaining_.load(std::memory_order_acquire) == 0; });
    task_ = nullptr;
    if (!error) error = worker_error_;
    worker_error_ = nullptr;
    const Clock::time_point worker_start = worker_start_;
    lock.unlock();
    note_turns(worker_start > own_done + spin);
    if (error) std::rethrow_exception(error);
  }

 private:
  // After a job on the workers: whether none of them had started by the end of the caller's
  // spin, and if so kLateJobs times in a row (or on the first job after a window), a window of
  // inline jobs (see kLateJobs).
  void note_turns(bool late) {
    if (!late) {
      late_in_a_row_ = 0;
      workers_nap.store(false, std::memory_order_relaxed);
      return;
    }
    if (++late_in_a_row_ < kLateJobs) return;
    // Each late job after a window (the first job after it) doubles the next window.
    const int doublings = std::min(late_in_a_row_ - kLateJobs, kMaxDoublings);
    inline_until_ = std::chrono::steady_clock::now() + kInlineWindow * (1 << doublings);
    workers_nap.store(true, std::memory_order_relaxed);
  }

  void worker_loop(int index, uint64_t seen) {
    t_in_job = true;  // a parallel_for nested inside a task runs inline on this worker
    for (;;) {
      const std::function<void(int)>* task;
      int chunks;
      // The next job often follows within microseconds: spin for it before sleeping.
      const auto spin_until = std::chrono::steady_clock::now() + kWorkerSpin;
      while (generation_.load(std::memory_order_acquire) == seen && !stopping_.load() &&
             !blas_wants_cores.load(std::memory_order_relaxed) &&
             !workers_nap.load(std::memory_order_relaxed) &&
             std::chrono::steady_clock::now() < spin_until)
        cpu_relax();
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
        task = task_;
        chunks = chunks_;
        worker_start_ = std::min(worker_start_, std::chrono::steady_clock::now());
      }
      int mine = 0;
      std::exception_ptr error;
      for (int c = index; c < chunks; c += threads_) {
        try {
          if (!error) (*task)(c);
        } catch (...) {
          error = std::current_exception();
        }
        ++mine;
      }
      if (mine > 0) worker_jobs.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu_);
      if (error && !worker_error_) worker_error_ = error;
      if (remaining_.fetch_sub(mine, std::memory_order_acq_rel) == mine) done_cv_.notify_one();
    }
  }
  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* task_ = nullptr;
  int chunks_ = 0;
  std::atomic<int> remaining_{0};  // chunks not finished yet (the caller may read it unlocked)
  std::atomic<uint64_t> generation_{0};  // written under mu_; workers also poll it unlocked
  std::atomic<bool> stopping_{false};
  std::exception_ptr worker_error_;  // the first exception a worker's chunk threw
  // The caller's side of the turn-taking rule (only the thread calling run() touches these).
  int late_in_a_row_ = 0;
  std::chrono::steady_clock::time_point worker_start_{};  // the first worker's start (under mu_)
  std::chrono::steady_clock::time_point inline_until_{};
};

// Processes of this job on this machine, as the MPI launcher says (Open MPI's mpirun, MPICH's
// Hydra); 1 for a plain process.
int ranks_on_this_node() {
  for (const char* v : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"})
    if (const char* env = std::getenv(v)) {
      const int n = std::atoi(env);
      if (n > 0) return n;
    }
  return 1;
}

int default_threads() {
  if (const char* env = std::getenv("NORMLAB_THREADS")) return parse_thread_count(env);
  // A process bound to fewer CPUs than the machine has (taskset, a cpuset, mpirun's binding)
  // uses those. Otherwise ranks on one machine share its cores: never oversubscribe them.
  const int usable = usable_cpus();
  const int machine = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (usable < machine) return usable;
  return std::max(1, machine / ranks_on_this_node());
}

Pool& pool() {
  static Pool* p = [] {
    const int n = default_threads();
    shorten_openblas_spin();  // before any BLAS call of ours: no BLAS work is in flight
    openblas_set_num_threads(n);
    blas_threads_now = n;
    return new Pool(n);
  }();
  return *p;
}

}  // namespace

// The CPUs this process may run on: its affinity set (taskset, numactl, a container's cpuset),
// which std::thread::hardware_concurrency ignores. Under `taskset -c 0` that counted both of this
// machine's CPUs, and the default 2 threads on one CPU made the mlp_ln step 1.9x slower than 1.
int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

uint64_t pool_worker_jobs() { return worker_jobs.load(std::memory_order_relaxed); }

uint64_t pool_inline_jobs() { return inline_jobs.load(std::memory_order_relaxed); }

int parse_thread_count(const std::string& text) {
  // The whole text must be a positive decimal integer ("4"; not "4x", " 4", "", "0" or "-1").
  const bool digits = !text.empty() && text.size() <= 6 &&
                      text.find_first_not_of("0123456789") == std::string::npos;
  const int n = digits ? std::stoi(text) : 0;
  if (n < 1)
    throw ValueError("NORMLAB_THREADS must be a positive integer, got '" + text + "'");
  return n;
}

double parse_gemm_thread_min(const std::string& text) {
  if (text.empty() || text.size() > 15 || text.find_first_not_of("0123456789") != std::string::npos)
    throw ValueError("NORMLAB_GEMM_THREAD_MIN must be a non-negative integer (multiply-adds), got '" +
                     text + "'");
  return std::stod(text);
}

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  if (n < 1) throw ValueError("threads must be >= 1, got " + std::to_string(n));
  if (n != pool().size()) pool().resize(n);
  openblas_set_num_threads(n);
  blas_threads_now = n;
}

// Who runs a GEMM at 2+ threads. OpenBLAS's own threads were the first answer (rounds 3-10:
// products from 16 M multiply-adds, with its workers asleep between calls), and products of 1-16 M
// went to normlab's pool in an RNN's time loop. Since the pool's workers spin 1 ms between jobs
// (kWorkerSpin), the pool does better on every size measured (docs/performance-history.md, eleventh
// round; scripts/pool-pair.cpp, part 3, alternated in one process: two single-threaded calls on the
// pool's threads against one 2-thread OpenBLAS call, 1.03-1.07x at 1024^3 and 2048x2048x512,
// 1.23-1.47x on the 2048-row Linear shapes, where a sleeping OpenBLAS worker is woken for every
// call), so by default no product goes to OpenBLAS's threads: those of 1 M multiply-adds or more
// are split over the pool (split_gemm_parts) or paired (pair_gemms_on_pool), smaller ones run on
// the calling thread. NORMLAB_GEMM_THREAD_MIN=N (or set_threaded_gemm_min_work) gives products of N
// multiply-adds or more to OpenBLAS's threads instead (N = 16777216 is the old rule; 0: every
// product), counting M·N·K scaled down by K/128 when K is shorter than 128 (OpenBLAS splits M and
// N, so a short K leaves each thread little work per output: 256x256x32 ran 0.69x as fast on 2
// threads as on 1, third round). For A/B measurements, and for machines where OpenBLAS's workers
// may spin between calls (OPENBLAS_THREAD_TIMEOUT=28).
constexpr double kThreadedGemmFullK = 128.0;

std::atomic<double>& threaded_gemm_min_work_setting() {
  static std::atomic<double> work{[] {
    const char* env = std::getenv("NORMLAB_GEMM_THREAD_MIN");
    return env && *env ? parse_gemm_thread_min(env) : std::numeric_limits<double>::infinity();
  }()};
  return work;
}

double threaded_gemm_min_work() {
  return threaded_gemm_min_work_setting().load(std::memory_order_relaxed);
}

void set_threaded_gemm_min_work(double work) {
  if (!(work >= 0.0)) throw ValueError("set_threaded_gemm_min_work: work must be >= 0");
  threaded_gemm_min_work_setting().store(work, std::memory_order_relaxed);
}

// Whether OpenBLAS's own threads take an M×N×K product (see above): never by default.
bool gemm_on_openblas_threads(int64_t M, int64_t N, int64_t K) {
  const double k = static_cast<double>(K);
  const double work = static_cast<double>(M) * static_cast<double>(N) * k;
  return work * std::min(1.0, k / kThreadedGemmFullK) >= threaded_gemm_min_work();
}

namespace {
// The pool takes products from this many multiply-adds (M·N·K) on, split or paired. A pool
// worker is still spinning when its next job comes within kWorkerSpin, and in an RNN's time
// loop it always is. Measured at 2 threads (docs/performance-history.md, step 20): rnn (32x256x256
// products and 256x256x32 weight gradients, 2 M) 1.30-1.34x faster, rnn_ln 1.25-1.27x; from
// 256 K on, rnn_ln_b4's 256x256x4 weight gradients split too and its step ran 0.83x as fast.
// An MLP layer's products (batch 64) gained nothing from the split while the worker slept
// between them (fifth round) and gain since it spins for 1 ms (eleventh round).
constexpr double kPoolGemmMinWork = 1024.0 * 1024;

bool pool_takes(int64_t M, int64_t N, int64_t K) {
  const double work = static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K);
  return work >= kPoolGemmMinWork && !gemm_on_openblas_threads(M, N, K);
}
}  // namespace

void choose_blas_threads(int64_t M, int64_t N, int64_t K) {
  if (t_in_job) return;
  const int want = gemm_on_openblas_threads(M, N, K) ? num_threads() : 1;
  if (want > 1) blas_wants_cores.store(true, std::memory_order_relaxed);
  if (want != blas_threads_now.load(std::memory_order_relaxed)) {
    openblas_set_num_threads(want);
    blas_threads_now.store(want, std::memory_order_relaxed);
  }
}

int split_gemm_parts(int64_t M, int64_t N, int64_t K) {
  if (t_in_job) return 1;
  const int all = num_threads();
  if (all < 2 || !pool_takes(M, N, K)) return 1;
  if (std::max(M, N) < 32 * all) return 1;  // parts of at least 32 rows or columns
  return all;
}

// Two independent products at once, one per pool thread (the backward's dx = dy·W and
// dW += dyᵀ·x of a Linear layer; an RNN step's dh and dU), rather than each split: each stays
// one single-threaded OpenBLAS call, so the results are those of one thread, bit for bit, and
// neither operand is packed twice. Measured at 2 threads (scripts/pool-pair.cpp, part 2): a
// Linear layer's dx and dW at once 1.03-1.80x faster than one after the other each split
// (batch 16-128, 128-256 wide; never slower), and 1.3-1.7x faster than one after the other on
// one thread in an earlier version of that measurement.
bool pair_gemms_on_pool(int64_t M1, int64_t N1, int64_t K1, int64_t M2, int64_t N2, int64_t K2) {
  if (t_in_job || num_threads() < 2) return false;
  return pool_takes(M1, N1, K1) && pool_takes(M2, N2, K2);
}

bool inside_parallel_task() { return t_in_job; }

int parallel_chunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  const int64_t by_grain = std::max<int64_t>(1, n / std::max<int64_t>(1, grain));
  return static_cast<int>(std::min<int64_t>(num_threads(), by_grain));
}

int64_t parallel_chunk_begin(int64_t n, int chunks, int c) {
  return n * c / chunks;
}

void parallel_for_chunks(int64_t n, int64_t grain,
                         const std::function<void(int, int64_t, int64_t)>& fn) {
  const int chunks = parallel_chunks(n, grain);
  if (chunks == 0) return;
  if (chunks == 1) {
    fn(0, 0, n);
    return;
  }
  pool().run(chunks, [&](int c) {
    fn(c, parallel_chunk_begin(n, chunks, c), parallel_chunk_begin(n, chunks, c + 1));
  });
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  parallel_for_chunks(n, grain, [&](int, int64_t b, int64_t e) { fn(b, e); });
}

}  // namespace nl
