// What a training step asks of BLAS, recorded so the products can be replayed alone: the
// step's BLAS floor (`normlab bench --json`, blas/NAME). The products' time with nothing else
// around them bounds from below what any framework calling this BLAS can reach on that step,
// so ours ÷ floor says how much of a step is the framework's own work.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace nl {

// One product's arguments as it reached sgemm (row-major; data pointers left out).
struct GemmShape {
  bool trans_a = false, trans_b = false;
  int64_t M = 0, N = 0, K = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  float alpha = 1.0f, beta = 0.0f;
};

// While a recorder lives, every product this thread sends through sgemm (core/blas.h) is
// appended to it. Products that pool workers run are not seen: record at 1 thread, where the
// whole step runs on the calling thread. Recorders nest; the innermost one records.
class GemmRecorder {
 public:
  GemmRecorder();
  ~GemmRecorder();
  GemmRecorder(const GemmRecorder&) = delete;
  GemmRecorder& operator=(const GemmRecorder&) = delete;

  const std::vector<GemmShape>& calls() const { return calls_; }

  // Called by sgemm on every product: appends to this thread's active recorder, if any.
  static void note(const GemmShape& call);

 private:
  std::vector<GemmShape> calls_;
  GemmRecorder* outer_;
};

// Buffers large enough for every recorded call, filled with values in [-1, 1) and taken from
// the tensor allocator as a step's are (64-byte aligned, huge pages from 2 MiB); replay() runs
// the calls in order through sgemm, each on the start of the same three buffers (so operands
// are as warm as the cache allows: a lower bound of the step's product time).
class GemmReplay {
 public:
  explicit GemmReplay(std::vector<GemmShape> calls);
  void replay();
  double gflop() const;  // 2·M·N·K summed over the calls, in GFLOP
  int64_t size() const { return static_cast<int64_t>(calls_.size()); }

 private:
  std::vector<GemmShape> calls_;
  Tensor a_, b_, c_;
};

}  // namespace nl
