// The process group (see core/distributed.h): MPI when built with it (NORMLAB_WITH_MPI) and
// launched by an MPI launcher, a world of one otherwise.
#include "core/distributed.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <vector>

#if NORMLAB_WITH_MPI
// The C API only: mpi.h would otherwise pull in the deprecated C++ bindings (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace nl::dist {

namespace {

bool g_initialised = false;  // we called MPI_Init_thread
int g_rank = 0, g_size = 1;
int g_local_depth = 0;  // open LocalScopes
CommStats g_stats;

// Times one collective and counts its payload.
class Counted {
 public:
  explicit Counted(int64_t bytes) : t0_(std::chrono::steady_clock::now()) {
    ++g_stats.calls;
    g_stats.bytes += bytes;
  }
  ~Counted() {
    g_stats.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  std::chrono::steady_clock::time_point t0_;
};

// Launched by mpirun (Open MPI), a PMIx launcher (srun --mpi=pmix) or a PMI-1/2 launcher.
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v) != nullptr) return true;
  return false;
}

#if NORMLAB_WITH_MPI
// Sum in place with identical bits on every rank: each rank reduces one contiguous share of the
// elements (MPI_Reduce_scatter), then every share is copied to every rank (MPI_Allgatherv).
template <typename T>
void reduce_scatter_allgather(T* data, int64_t n, MPI_Datatype type) {
  std::vector<int> counts(g_size), displs(g_size);
  for (int r = 0; r < g_size; ++r) {
    const int64_t lo = n * r / g_size, hi = n * (r + 1) / g_size;
    counts[r] = static_cast<int>(hi - lo);
    displs[r] = static_cast<int>(lo);
  }
  std::vector<T> mine(static_cast<size_t>(counts[g_rank]) + 1);
  MPI_Reduce_scatter(data, mine.data(), counts.data(), type, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allgatherv(mine.data(), counts[g_rank], type, data, counts.data(), displs.data(), type, MPI_COMM_WORLD);
}
#endif

}  // namespace

void init(int* argc, char*** argv) {
#if NORMLAB_WITH_MPI
  if (g_initialised || !launched_by_mpi()) return;
  int provided = 0;
  // Only the main thread calls MPI (normlab's pool threads never do).
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  g_initialised = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
#else
  (void)argc;
  (void)argv;
#endif
}

void finalize() {
#if NORMLAB_WITH_MPI
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (g_initialised && !finalized) MPI_Finalize();
#endif
  g_initialised = false;
}

bool built_with_mpi() {
#if NORMLAB_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool active() { return g_initialised && g_size > 1; }
int rank() { return g_rank; }
int size() { return g_size; }
bool collectives_enabled() { return active() && g_local_depth == 0; }

LocalScope::LocalScope() { ++g_local_depth; }
LocalScope::~LocalScope() { --g_local_depth; }

void allreduce_sum(float* data, int64_t n) {
  if (!active() || n == 0) return;
#if NORMLAB_WITH_MPI
  Counted c(n * static_cast<int64_t>(sizeof(float)));
  reduce_scatter_allgather(data, n, MPI_FLOAT);
#endif
}

void allreduce_sum(double* data, int64_t n) {
  if (!active() || n == 0) return;
#if NORMLAB_WITH_MPI
  Counted c(n * static_cast<int64_t>(sizeof(double)));
  reduce_scatter_allgather(data, n, MPI_DOUBLE);
#endif
}

void allreduce_max(int64_t* data, int64_t n) {
  if (!active() || n == 0) return;
#if NORMLAB_WITH_MPI
  Counted c(n * static_cast<int64_t>(sizeof(int64_t)));
  MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
#endif
}

void allgather(const double* send, int64_t n, double* recv) {
  if (!active()) {
    std::copy(send, send + n, recv);
    return;
  }
#if NORMLAB_WITH_MPI
  Counted c(n * static_cast<int64_t>(sizeof(double)));
  MPI_Allgather(send, static_cast<int>(n), MPI_DOUBLE, recv, static_cast<int>(n), MPI_DOUBLE, MPI_COMM_WORLD);
#endif
}

void broadcast(float* data, int64_t n, int root) {
  if (!active() || n == 0) return;
#if NORMLAB_WITH_MPI
  Counted c(n * static_cast<int64_t>(sizeof(float)));
  MPI_Bcast(data, static_cast<int>(n), MPI_FLOAT, root, MPI_COMM_WORLD);
#else
  (void)root;
#endif
}

void broadcast(double* data, int64_t n, int root) {
  if (!active() || n == 0) return;
#if NORMLAB_WITH_MPI
  Counted c(n * static_cast<int64_t>(sizeof(double)));
  MPI_Bcast(data, static_cast<int>(n), MPI_DOUBLE, root, MPI_COMM_WORLD);
#else
  (void)root;
#endif
}

void barrier() {
  if (!active()) return;
#if NORMLAB_WITH_MPI
  Counted c(0);
  MPI_Barrier(MPI_COMM_WORLD);
#endif
}

void abort_all(int exit_code) {
#if NORMLAB_WITH_MPI
  if (g_initialised) MPI_Abort(MPI_COMM_WORLD, exit_code);
#endif
  std::exit(exit_code);
}

CommStats comm_stats() { return g_stats; }
void reset_comm_stats() { g_stats = CommStats{}; }

std::string rank_prefix() {
  if (!active()) return "";
  return "rank " + std::to_string(g_rank) + "/" + std::to_string(g_size) + ": ";
}

}  // namespace nl::dist
