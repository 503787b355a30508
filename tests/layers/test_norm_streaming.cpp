// Outputs of stream_min_bytes() and more are streamed past the caches
// (layers/kernels/norm_common.h): a separate store path in the LayerNorm, RMSNorm and BatchNorm
// kernels. Every output row must carry the same bits as the ordinary path gives it: each row of
// y and dx depends only on its own row (and, for BatchNorm, on per-channel statistics and sums
// passed in), so a few rows run alone, below the threshold, are the reference for the same rows
// inside a streamed call.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/threading.h"
#include "helpers.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/layernorm.h"
#include "layers/rmsnorm.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

constexpr int64_t kC = 1024;
constexpr int64_t kFirst = 1001;  // odd: not a row pair's first row
constexpr int64_t kRows = 5;      // rows run alone
// The smallest size streamed at 1 thread (the default threshold: 8 MiB = 2048 rows); 0 when
// NORMLAB_STREAM_MIB switches streaming off. The tests run at 1 thread (the rule counts each
// thread's share).
const int64_t kR = kernels::stream_min_bytes() <= (int64_t{1} << 30)
                       ? std::max(kernels::stream_min_bytes() / (kC * 4), kFirst + kRows)
                       : 0;

// Whether rows [kFirst, kFirst + kRows) of big equal small bit for bit.
bool same_rows(const Tensor& big, const std::vector<float>& small) {
  return std::memcmp(big.data() + kFirst * kC, small.data(), small.size() * sizeof(float)) == 0;
}

bool streaming_off() {
  if (kR > 0) return false;
  WARN("NORMLAB_STREAM_MIB switches streaming off: nothing to compare");
  return true;
}

struct Inputs {
  ThreadCountGuard one_thread{1};  // first: every test runs at 1 thread
  Tensor x = rand_tensor({kR, kC}, 1, false, -2.0f, 3.0f);
  Tensor dy = rand_tensor({kR, kC}, 2, false);
  Tensor gamma = rand_tensor({kC}, 3, false, 0.5f, 1.5f);
  Tensor beta = rand_tensor({kC}, 4, false);
  Tensor y = Tensor::empty({kR, kC});
  Tensor dx = Tensor::empty({kR, kC});
  const float* x_rows() const { return x.data() + kFirst * kC; }
  const float* dy_rows() const { return dy.data() + kFirst * kC; }
};

}  // namespace

TEST_CASE("streamed norm outputs: the size and alignment rule", "[layernorm][streaming]") {
  if (streaming_off()) return;
  Inputs in;
  CHECK(kernels::stream_output(in.y.data(), kR, kC));  // Storage aligns large blocks
  const int64_t below = (kernels::stream_min_bytes() - 1) / (kC * 4);  // rows just under it
  CHECK_FALSE(kernels::stream_output(in.y.data(), below, kC));
  CHECK_FALSE(kernels::stream_output(in.y.data() + 1, kR, kC));  // not 64-byte aligned
  CHECK_FALSE(kernels::stream_output(in.y.data(), 2 * kR, kC - 8));  // rows leave a tail
  CHECK_FALSE(kernels::stream_output(nullptr, kR, kC));
  if (kR * kC * 4 < 2 * kernels::stream_min_bytes()) {  // each thread's share counts
    ThreadCountGuard two(2);
    CHECK_FALSE(kernels::stream_output(in.y.data(), kR, kC));
  }
}

TEST_CASE("LayerNorm: streamed y and dx equal the ordinary path row by row",
          "[layernorm][streaming]") {
  if (streaming_off()) return;
  Inputs in;
  std::vector<float> mean(kR), lo(kR), rstd(kR), dgamma(kC), dbeta(kC);
  kernels::layernorm_forward(in.x.data(), in.gamma.data(), in.beta.data(), kR, kC, 1, 1e-5f,
                             in.y.data(), mean.data(), lo.data(), rstd.data());
  kernels::NormGrads grads;
  grads.dx = in.dx.data();
  grads.dgamma = dgamma.data();
  grads.dbeta = dbeta.data();
  kernels::layernorm_backward(in.dy.data(), in.x.data(), in.gamma.data(), mean.data(), lo.data(),
                              rstd.data(), kR, kC, 1, grads);

  std::vector<float> y(kRows * kC), dx(kRows * kC), m(kRows), l(kRows), r(kRows), dg(kC), db(kC);
  kernels::layernorm_forward(in.x_rows(), in.gamma.data(), in.beta.data(), kRows, kC, 1, 1e-5f,
                             y.data(), m.data(), l.data(), r.data());
  CHECK(same_rows(in.y, y));
  CHECK(std::memcmp(m.data(), mean.data() + kFirst, kRows * sizeof(float)) == 0);
  kernels::NormGrads g{dx.data(), false, dg.data(), false, db.data(), false};
  kernels::layernorm_backward(in.dy_rows(), in.x_rows(), in.gamma.data(), m.data(), l.data(),
                              r.data(), kRows, kC, 1, g);
  CHECK(same_rows(in.dx, dx));

  SECTION("an unaligned dx takes the ordinary stores, same bits, dgamma and dbeta included") {
    // The streamed backward sums the dgamma / dbeta partials in its second pass, the ordinary
    // one in its first: the same terms in the same order.
    std::vector<float> shifted(kR * kC + 1), dgamma2(kC), dbeta2(kC);
    grads.dx = shifted.data() + 1;
    grads.dgamma = dgamma2.data();
    grads.dbeta = dbeta2.data();
    REQUIRE_FALSE(kernels::stream_output(grads.dx, kR, kC));
    kernels::layernorm_backward(in.dy.data(), in.x.data(), in.gamma.data(), mean.data(),
                                lo.data(), rstd.data(), kR, kC, 1, grads);
    CHECK(std::memcmp(grads.dx, in.dx.data(), kR * kC * sizeof(float)) == 0);
    CHECK(std::memcmp(dgamma2.data(), dgamma.data(), kC * sizeof(float)) == 0);
    CHECK(std::memcmp(dbeta2.data(), dbeta.data(), kC * sizeof(float)) == 0);
  }
}

TEST_CASE("LayerNorm: streamed rows shorter than 1024 equal the ordinary path, dgamma included",
          "[layernorm][streaming]") {
  // Such rows stream one at a time (layers/kernels/layernorm.cpp, streamed_pair) with their
  // partials still summed pair by pair, and the forward takes its statistics in smaller blocks:
  // y, dx, dgamma and dbeta carry the ordinary path's bits (an unaligned y / dx takes it).
  if (streaming_off()) return;
  ThreadCountGuard one_thread{1};
  constexpr int64_t C = 256;
  const int64_t R = kernels::stream_min_bytes() / (C * 4) + 1;  // odd: the last row goes alone
  const Tensor x = rand_tensor({R, C}, 5, false, -2.0f, 3.0f);
  const Tensor dy = rand_tensor({R, C}, 6, false);
  const Tensor gamma = rand_tensor({C}, 7, false, 0.5f, 1.5f);
  const Tensor beta = rand_tensor({C}, 8, false);
  const size_t bytes = static_cast<size_t>(R * C) * sizeof(float);
  Tensor y = Tensor::empty({R, C}), dx = Tensor::empty({R, C});
  std::vector<float> mean(R), lo(R), rstd(R), dgamma(C), dbeta(C);
  std::vector<float> y2(R * C + 1), dx2(R * C + 1), mean2(R), lo2(R), rstd2(R), dgamma2(C),
      dbeta2(C);
  REQUIRE(kernels::stream_output(y.data(), R, C));
  REQUIRE_FALSE(kernels::stream_output(y2.data() + 1, R, C));
  kernels::layernorm_forward(x.data(), gamma.data(), beta.data(), R, C, 1, 1e-5f, y.data(),
                             mean.data(), lo.data(), rstd.data());
  kernels::layernorm_forward(x.data(), gamma.data(), beta.data(), R, C, 1, 1e-5f, y2.data() + 1,
                             mean2.data(), lo2.data(), rstd2.data());
  CHECK(std::memcmp(y.data(), y2.data() + 1, bytes) == 0);
  CHECK(std::memcmp(mean.data(), mean2.data(), R * sizeof(float)) == 0);
  CHECK(std::memcmp(rstd.data(), rstd2.data(), R * sizeof(float)) == 0);
  const kernels::NormGrads streamed{dx.data(), false, dgamma.data(), false, dbeta.data(), false};
  const kernels::NormGrads ordinary{dx2.data() + 1, false, dgamma2.data(), false, dbeta2.data(),
                                    false};
  kernels::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), lo.data(),
                              rstd.data(), R, C, 1, streamed);
  kernels::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), lo.data(),
                              rstd.data(), R, C, 1, ordinary);
  CHECK(std::memcmp(dx.data(), dx2.data() + 1, bytes) == 0);
  CHECK(std::memcmp(dgamma.data(), dgamma2.data(), C * sizeof(float)) == 0);
  CHECK(std::memcmp(dbeta.data(), dbeta2.data(), C * sizeof(float)) == 0);
}

TEST_CASE("RMSNorm: streamed y and dx equal the ordinary path row by row",
          "[rmsnorm][streaming]") {
  if (streaming_off()) return;
  Inputs in;
  std::vector<float> rrms(kR), dgamma(kC);
  kernels::rmsnorm_forward(in.x.data(), in.gamma.data(), kR, kC, 1e-6f, in.y.data(), rrms.data());
  kernels::NormGrads grads;
  grads.dx = in.dx.data();
  grads.dgamma = dgamma.data();
  kernels::rmsnorm_backward(in.dy.data(), in.x.data(), in.gamma.data(), rrms.data(), kR, kC,
                            grads);

  std::vector<float> y(kRows * kC), dx(kRows * kC), rr(kRows), dg(kC);
  kernels::rmsnorm_forward(in.x_rows(), in.gamma.data(), kRows, kC, 1e-6f, y.data(), rr.data());
  CHECK(same_rows(in.y, y));
  kernels::NormGrads g;
  g.dx = dx.data();
  g.dgamma = dg.data();
  kernels::rmsnorm_backward(in.dy_rows(), in.x_rows(), in.gamma.data(), rr.data(), kRows, kC, g);
  CHECK(same_rows(in.dx, dx));
}

TEST_CASE("BatchNorm: streamed y and dx equal the ordinary path row by row",
          "[batchnorm][streaming]") {
  if (streaming_off()) return;
  Inputs in;
  std::vector<float> mean(kC), lo(kC), var(kC), rstd(kC), dgamma(kC), dbeta(kC);
  std::vector<double> sums(2 * kC);
  kernels::batchnorm_stats(in.x.data(), nullptr, kR, kC, 1e-5f, mean.data(), lo.data(),
                           var.data(), rstd.data());
  kernels::batchnorm_apply(in.x.data(), nullptr, in.gamma.data(), in.beta.data(), mean.data(),
                           lo.data(), rstd.data(), kR, kC, in.y.data());
  kernels::batchnorm_grad_sums(in.dy.data(), in.x.data(), nullptr, mean.data(), lo.data(), kR,
                               kC, sums.data());
  kernels::NormGrads grads;
  grads.dx = in.dx.data();
  kernels::batchnorm_backward_finish(in.dy.data(), in.x.data(), nullptr, in.gamma.data(),
                                     mean.data(), lo.data(), rstd.data(), kR, kC, sums.data(),
                                     sums.data(), kR, true, grads);

  // The same statistics and sums, applied to a few rows alone.
  std::vector<float> y(kRows * kC), dx(kRows * kC);
  kernels::batchnorm_apply(in.x_rows(), nullptr, in.gamma.data(), in.beta.data(), mean.data(),
                           lo.data(), rstd.data(), kRows, kC, y.data());
  CHECK(same_rows(in.y, y));
  kernels::NormGrads g;
  g.dx = dx.data();
  kernels::batchnorm_backward_finish(in.dy_rows(), in.x_rows(), nullptr, in.gamma.data(),
                                     mean.data(), lo.data(), rstd.data(), kRows, kC, sums.data(),
                                     sums.data(), kR, true, g);
  CHECK(same_rows(in.dx, dx));
}
