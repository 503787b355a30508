// The process group for data-parallel training (docs/distributed.md). normlab is built with
// MPI when CMake finds it (option NORMLAB_MPI, default ON); launched by mpirun / srun, each
// process is one rank of the world. Built without MPI, or started as a plain process, the
// world is one rank and every collective below is a no-op (or a copy) — code that calls them
// needs no `if (distributed)` of its own.
//
// Determinism: every reduction gives the SAME bits on every rank (replicas must stay
// identical) and the same bits from run to run at the same rank count. Sums are reduced by
// reduce-scatter + all-gather (each element is summed in one place, then copied out), never
// by an algorithm that lets ranks add in different orders.
//
// Local scope: rank 0 evaluates alone while the others wait at their next collective. Code
// that would communicate inside such an evaluation (SyncBatchNorm) asks collectives_enabled(),
// which is false inside a LocalScope.
#pragma once
#include <cstdint>
#include <string>

namespace nl::dist {

// Starts MPI when normlab was built with it AND the process was launched by an MPI launcher
// (Open MPI's mpirun, PMIx / Slurm srun); otherwise the world is this process alone. Call
// once, first thing in main; finalize() at exit (both are safe to call without MPI).
void init(int* argc, char*** argv);
void finalize();

bool built_with_mpi();  // compiled against MPI
bool active();          // MPI initialised and the world has more than one rank
int rank();             // 0 .. size()-1 (0 without MPI)
int size();             // world size (1 without MPI)
inline bool is_root() { return rank() == 0; }

// False inside a LocalScope or when size() == 1.
bool collectives_enabled();

// While alive (on this thread's rank), collectives_enabled() is false: for rank-0-only work.
class LocalScope {
 public:
  LocalScope();
  ~LocalScope();
  LocalScope(const LocalScope&) = delete;
  LocalScope& operator=(const LocalScope&) = delete;
};

// ---- collectives: every rank calls the same ones in the same order --------------------------
// Element-wise sum over ranks, in place; identical bits on every rank (see file comment).
void allreduce_sum(float* data, int64_t n);
void allreduce_sum(double* data, int64_t n);
// Element-wise max over ranks, in place (flags: "any rank asked to stop").
void allreduce_max(int64_t* data, int64_t n);
// recv (size() * n values) = every rank's send (n values), in rank order.
void allgather(const double* send, int64_t n, double* recv);
// data (n values) from `root` to every rank.
void broadcast(float* data, int64_t n, int root = 0);
void broadcast(double* data, int64_t n, int root = 0);
void barrier();

// Ends every rank of the job with this exit code (MPI_Abort); without MPI, std::exit. Used when
// one rank fails so the others do not wait forever at their next collective.
[[noreturn]] void abort_all(int exit_code);

// Communication counters since the last reset (this rank): collective calls, payload bytes
// this rank sent into collectives, and wall time spent inside them.
struct CommStats {
  int64_t calls = 0;
  int64_t bytes = 0;
  double seconds = 0;
};
CommStats comm_stats();
void reset_comm_stats();

// "rank 1/4" style prefix for messages ("" when not active).
std::string rank_prefix();

}  // namespace nl::dist
