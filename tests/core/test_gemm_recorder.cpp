// The recorder behind a step's BLAS floor (blas/NAME): it sees every product with its shape,
// strides and beta, only while it lives and only in the innermost recorder; a replay issues
// exactly the recorded products and counts their FLOPs.
#include "core/gemm_recorder.h"
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
bool same(const GemmShape& a, const GemmShape& b) {
  return a.trans_a == b.trans_a && a.trans_b == b.trans_b && a.M == b.M && a.N == b.N &&
         a.K == b.K && a.lda == b.lda && a.ldb == b.ldb && a.ldc == b.ldc && a.alpha == b.alpha &&
         a.beta == b.beta;
}
}  // namespace

TEST_CASE("a recorder sees a linear layer's three products with shapes, strides and beta",
          "[blas][recorder]") {
  nl::ThreadCountGuard one_thread(1);  // every product on this thread, as blas/NAME records
  Tensor x = rand_tensor({6, 5}, 1), w = rand_tensor({3, 5}, 2), b = rand_tensor({3}, 3);
  GemmRecorder recorder;
  linear(x, w, b).backward(Tensor::ones({6, 3}));
  const std::vector<GemmShape>& calls = recorder.calls();
  REQUIRE(calls.size() == 3);
  // y = x Wᵀ onto the bias (beta 1), then dx = dy W and dW = dyᵀ x into fresh gradients.
  REQUIRE(same(calls[0], {false, true, 6, 3, 5, 5, 5, 3, 1.0f, 1.0f}));
  REQUIRE(same(calls[1], {false, false, 6, 5, 3, 3, 5, 5, 1.0f, 0.0f}));
  REQUIRE(same(calls[2], {true, false, 3, 5, 6, 3, 5, 5, 1.0f, 0.0f}));
}

TEST_CASE("recording happens only inside a recorder, in the innermost one", "[blas][recorder]") {
  nl::ThreadCountGuard one_thread(1);  // every product on this thread, as blas/NAME records
  Tensor a = rand_tensor({4, 8}, 4, false), b = rand_tensor({8, 2}, 5, false);
  (void)matmul(a, b);  // no recorder alive: nothing to see later
  GemmRecorder outer;
  (void)matmul(a, b);
  {
    GemmRecorder inner;
    (void)matmul(a, b);
    (void)matmul(a, b);
    REQUIRE(inner.calls().size() == 2);
  }
  (void)matmul(a, b);
  REQUIRE(outer.calls().size() == 2);
  REQUIRE(same(outer.calls()[0], {false, false, 4, 2, 8, 8, 2, 2, 1.0f, 0.0f}));
}

TEST_CASE("a replay issues exactly the recorded products and counts their FLOPs",
          "[blas][recorder]") {
  nl::ThreadCountGuard one_thread(1);  // every product on this thread, as blas/NAME records
  // Transposes, a column block of a wider matrix (lda, ldb, ldc above the widths), a beta = 1
  // product, and a 2-row product (run as sgemv rows).
  const std::vector<GemmShape> calls = {{false, true, 64, 64, 32, 384, 384, 64, 0.125f, 0.0f},
                                        {true, false, 32, 48, 64, 96, 128, 160, 1.0f, 1.0f},
                                        {false, false, 2, 256, 256, 256, 256, 256, 1.0f, 0.0f},
                                        {false, false, 3, 5, 0, 1, 5, 5, 1.0f, 1.0f}};
  GemmReplay replay(calls);
  REQUIRE(replay.size() == 4);
  REQUIRE(replay.gflop() ==
          Approx(2e-9 * (64.0 * 64 * 32 + 32.0 * 48 * 64 + 2.0 * 256 * 256)).epsilon(1e-12));
  GemmRecorder seen;
  replay.replay();
  replay.replay();
  REQUIRE(seen.calls().size() == 8);
  for (size_t i = 0; i < seen.calls().size(); ++i) REQUIRE(same(seen.calls()[i], calls[i % 4]));
}
