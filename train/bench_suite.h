// The machine-readable benchmark suite behind `normlab bench --json`: every norm kernel,
// matmul next to raw sgemm, the STREAM triad ceiling and one training step of every reference
// workload, each measured in this process with the same timing rules, so ratios between them
// (ours / ceiling, ours / PyTorch) are taken from one sitting.
//
// Names (the contract with scripts/bench-compare.py):
//   layernorm_fwd/RxC  layernorm_fwdbwd/RxC  batchnorm_fwd/RxC  batchnorm_fwdbwd/RxC
//   rmsnorm_fwdbwd/RxC       R×C in {8192×256, 8192×1024, 2048×128, 512×64}
//   matmul/MxNxK  sgemm/MxNxK      C(M,N) = A(M,K)·B(K,N), through the framework and raw
//                                   (OpenBLAS without normlab's register kernel)
//   stream_triad/SIZE               SIZE bytes per array: 128K (L2), 8M (L3), 128M (DRAM)
//   step/NAME                       every workload of train/workloads.h (ms per training step)
//   blas/NAME                       that step's BLAS products replayed alone, 1 thread (its floor)
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "core/tensor.h"
#include "core/timing.h"

namespace nl {

struct BenchCase {
  std::string name;
  // Builds the inputs, times the case with `reps` repetitions and returns its JSON record.
  std::function<json(int reps)> run;
};

// The inputs of one norm benchmark of shape (R, C), the same for every caller (seed 0), and
// its forward through the framework: op is layernorm | batchnorm (training mode) | rmsnorm.
struct NormBenchInputs {
  Tensor x, dy, w, b, running_mean, running_var;
  NormBenchInputs(int64_t R, int64_t C);
  Tensor forward(const std::string& op);
};

// All cases in a fixed order (cheap: nothing is allocated until a case runs).
std::vector<BenchCase> bench_suite();

// The common record: {"bench", "threads", "median_ms", "min_ms", "cpu_ms", "minflt_per_call",
// "calls", "inline_jobs"}.
json bench_record(const std::string& name, const TimingResult& t);

}  // namespace nl
