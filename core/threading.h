// One thread setting for the whole process: it sets OpenBLAS's thread count and the size of
// normlab's own pool together, so the two never oversubscribe the cores. Set it with
// set_num_threads(), `--threads N` on the CLI, or NORMLAB_THREADS in the environment
// (default: the CPUs the process is bound to, or else all of them shared out among the MPI
// ranks on this machine). BLAS calls and pool
// loops never run at the same time.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace nl {

// The thread count in a NORMLAB_THREADS value; ValueError unless it is a positive integer.
int parse_thread_count(const std::string& text);

// The multiply-adds in a NORMLAB_GEMM_THREAD_MIN value (from which a GEMM goes to OpenBLAS's
// own threads; see core/threading.cpp); ValueError unless it is a non-negative integer.
double parse_gemm_thread_min(const std::string& text);

// The CPUs the calling thread may run on (its affinity set: taskset, numactl, a cpuset), at
// least 1. The default thread count is this when it is less than the machine's CPUs (the
// process was bound), else the machine's CPUs over the MPI ranks on it.
int usable_cpus();

// How many parallel_for jobs so far had a chunk run by a pool worker (not the caller): a
// difference between two reads says whether the workers took part in what ran between them.
uint64_t pool_worker_jobs();

// How many parallel_for jobs so far ran on the caller alone because the pool had found its
// threads taking turns (its workers starting only after the caller gave up its CPU, several jobs
// in a row: e.g. all bound to one CPU); core/threading.cpp, kLateJobs.
uint64_t pool_inline_jobs();

// Number of threads used by parallel_for and by OpenBLAS.
int num_threads();
// Sets both the pool and OpenBLAS (n >= 1). Call between steps, not from inside parallel_for.
void set_num_threads(int n);

// Restores the thread count when the scope ends, whatever happens (an exception included);
// given a count, sets it for the scope. For measurements and tests that need one setting.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(num_threads()) {}
  explicit ThreadCountGuard(int threads) : saved_(num_threads()) { set_num_threads(threads); }
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

// The multiply-adds from which a GEMM goes to OpenBLAS's own threads instead of normlab's pool:
// none by default (infinity), NORMLAB_GEMM_THREAD_MIN=N in the environment, or set here (for
// A/B measurements and tests; call between steps). The rule is in core/threading.cpp.
double threaded_gemm_min_work();
void set_threaded_gemm_min_work(double work);

// Whether OpenBLAS's own threads take an M×N×K product (threaded_gemm_min_work; never by
// default). When they do not, a product run inside a parallel_for task runs whole on that task's
// thread once choose_blas_threads has been called for it outside the task.
bool gemm_on_openblas_threads(int64_t M, int64_t N, int64_t K);

// Tells OpenBLAS how many threads the next GEMM of M·N·K multiply-adds may use: one, unless
// threaded_gemm_min_work() gives it to OpenBLAS's threads (then all of num_threads()). Called by
// nl::sgemm before each call. Inside a parallel_for task it changes nothing: the pool's threads
// are all busy there, and OpenBLAS runs products below its own threshold (kBlasSingleThreadMNK,
// core/blas.h) on the calling thread.
void choose_blas_threads(int64_t M, int64_t N, int64_t K);
// Into how many parts nl::sgemm splits an M×N×K product over the pool (1: not split; the
// product then runs as one OpenBLAS call, threaded or not by choose_blas_threads): all threads
// for 1 M multiply-adds or more, at 2+ threads, outside a pool task, unless OpenBLAS's threads
// take it.
int split_gemm_parts(int64_t M, int64_t N, int64_t K);
// Whether nl::sgemm_pair runs its two products at once, one on each of two pool threads: with
// 2+ threads, outside a pool task, when each has at least 1 M multiply-adds and OpenBLAS's
// threads take neither.
bool pair_gemms_on_pool(int64_t M1, int64_t N1, int64_t K1, int64_t M2, int64_t N2, int64_t K2);
// Whether the calling thread is running a parallel_for task (where nested loops run inline).
bool inside_parallel_task();

// Grains for parallel_for over elements: below this many elements per thread a loop stays on
// the calling thread. A parallel_for costs ~5-15 µs on this machine (waking a pool worker), and
// a cheap op runs at 0.05-0.3 ns per element, so a loop gains from a second thread only from a
// few 100 K elements on (docs/performance-history.md, "Pool wake-up").
constexpr int64_t kGrainCheap = int64_t{1} << 17;  // add, mul, copy, compare
constexpr int64_t kGrainHeavy = int64_t{1} << 14;  // exp/tanh/erf per element (~10x the work)

// Runs fn(begin, end) over [0, n) split into at most num_threads() contiguous chunks.
// Chunking depends only on n, grain and the thread count, so reductions that combine
// per-chunk partials in chunk order are deterministic for a given thread count.
// Ranges smaller than `grain` items per thread run inline on the caller.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// The number of chunks parallel_for(n, grain, ...) will use (for sizing partial buffers),
// and the chunk boundaries [chunk_begin(c), chunk_begin(c+1)).
int parallel_chunks(int64_t n, int64_t grain);
int64_t parallel_chunk_begin(int64_t n, int chunks, int c);

// Runs fn(chunk_index, begin, end) for each chunk of parallel_chunks(n, grain).
void parallel_for_chunks(int64_t n, int64_t grain,
                         const std::function<void(int, int64_t, int64_t)>& fn);

}  // namespace nl
