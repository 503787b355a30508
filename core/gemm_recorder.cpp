#include "core/gemm_recorder.h"

#include <algorithm>

#include "core/blas.h"
#include "core/rng.h"

namespace nl {
namespace {

thread_local GemmRecorder* active_recorder = nullptr;

// Floats a stored (rows × cols) matrix with row stride ld spans.
int64_t span(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

}  // namespace

GemmRecorder::GemmRecorder() : outer_(active_recorder) { active_recorder = this; }
GemmRecorder::~GemmRecorder() { active_recorder = outer_; }

void GemmRecorder::note(const GemmShape& call) {
  if (active_recorder) active_recorder->calls_.push_back(call);
}

GemmReplay::GemmReplay(std::vector<GemmShape> calls) : calls_(std::move(calls)) {
  int64_t na = 0, nb = 0, nc = 0;
  for (const GemmShape& g : calls_) {
    na = std::max(na, g.trans_a ? span(g.K, g.M, g.lda) : span(g.M, g.K, g.lda));
    nb = std::max(nb, g.trans_b ? span(g.N, g.K, g.ldb) : span(g.K, g.N, g.ldb));
    nc = std::max(nc, span(g.M, g.N, g.ldc));
  }
  Rng rng(0);
  a_ = Tensor::uniform({na}, -1.0f, 1.0f, rng);
  b_ = Tensor::uniform({nb}, -1.0f, 1.0f, rng);
  c_ = Tensor::uniform({nc}, -1.0f, 1.0f, rng);
}

void GemmReplay::replay() {
  // beta = 1 calls accumulate into c_ on every replay: |c| grows by at most K per call, far
  // from overflow in any benchmark's number of replays, and never towards denormals.
  for (const GemmShape& g : calls_)
    sgemm(g.trans_a, g.trans_b, g.M, g.N, g.K, g.alpha, a_.data(), g.lda, b_.data(), g.ldb,
          g.beta, c_.data(), g.ldc);
}

double GemmReplay::gflop() const {
  double flop = 0;
  for (const GemmShape& g : calls_) flop += 2.0 * static_cast<double>(g.M) * g.N * g.K;
  return flop * 1e-9;
}

}  // namespace nl
