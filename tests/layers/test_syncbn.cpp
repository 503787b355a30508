// BatchNorm across ranks (layers/kernels/sync_batchnorm.h). Multi-rank: hidden
// "[.mpi_worker_syncbn]" cases run as 2 and 3 ranks by the visible test at the bottom; every
// rank builds the SAME full batch from a fixed seed, takes its share of the rows, and computes
// the single-process reference on the whole batch itself. Single process: sync in a world of
// one is the local path bit for bit, the rank merge is stable, gradchecks of the sync kernel.
#include <algorithm>
#include <cstring>

#include "core/distributed.h"
#include "helpers.h"
#include "layers/batchnorm.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/sync_batchnorm.h"
#include "mpi_run.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

std::shared_ptr<BatchNorm> make_bn(int64_t C, bool sync, int64_t steps = 0, bool masked = true) {
  BatchNormOptions o;
  o.features = C;
  o.steps = steps;
  o.masked = masked;
  o.sync = sync;
  auto bn = std::make_shared<BatchNorm>(o);
  Rng rng(5);  // the same non-trivial gamma/beta on every rank and for the reference
  bn->weight.copy_(Tensor::uniform({C}, 0.5f, 1.5f, rng));
  bn->bias.copy_(Tensor::uniform({C}, -0.5f, 0.5f, rng));
  return bn;
}

// Uniform data whose first feature sits at 1e4 (a large mean: the merge must stay stable).
Tensor batch_data(const Shape& shape, uint64_t seed) {
  std::vector<float> v = rand_tensor(shape, seed, false, -2.0f, 2.0f).to_vector();
  const size_t C = static_cast<size_t>(shape.back());
  for (size_t i = 0; i < v.size(); i += C) v[i] += 1e4f;
  return Tensor::from_vector(v, shape);
}

// Rows [r0, r1) of the first axis as a new leaf.
Tensor take_rows(const Tensor& full, int64_t r0, int64_t r1, bool grad = false) {
  if (!full.defined()) return Tensor();
  Shape s = full.shape();
  const int64_t per = full.numel() / s[0];
  std::vector<float> v(full.data() + r0 * per, full.data() + r1 * per);
  s[0] = r1 - r0;
  Tensor t = Tensor::from_vector(v, s);
  if (grad) t.requires_grad_();
  return t;
}

// This rank's rows of N: [r N / n, (r+1) N / n) (uneven when n does not divide N).
std::pair<int64_t, int64_t> my_rows(int64_t N) {
  const int64_t r = dist::rank(), n = dist::size();
  return {r * N / n, (r + 1) * N / n};
}

void check_close(const Tensor& got, const Tensor& want, const std::string& what, double tol = 1e-5) {
  INFO(what << " (rank " << dist::rank() << "): max |diff| " << test::max_abs_diff(got, want));
  CHECK(test::allclose(got, want, tol, tol));
}

// The sum over ranks of a parameter gradient (the trainer's all-reduce, done by hand).
Tensor summed_over_ranks(const Tensor& g) {
  std::vector<float> v = g.to_vector();
  dist::allreduce_sum(v.data(), static_cast<int64_t>(v.size()));
  return Tensor::from_vector(v, g.shape());
}

// Rank 0's copy == this rank's copy, bit for bit.
void check_same_on_every_rank(const Tensor& t, const std::string& what) {
  std::vector<float> mine = t.to_vector(), root = mine;
  dist::broadcast(root.data(), static_cast<int64_t>(root.size()), 0);
  INFO(what << " differs from rank 0's on rank " << dist::rank());
  CHECK(std::memcmp(mine.data(), root.data(), mine.size() * sizeof(float)) == 0);
}

// One training step of the sync module on this rank's rows and of the reference module on the
// whole batch; outputs and dx compared row for row (parameter grads accumulate).
void step_and_compare(BatchNorm& sync_bn, BatchNorm& ref, const Tensor& x_full,
                      const Tensor& mask_full, const Tensor& dy_full, const std::string& what) {
  const auto [r0, r1] = my_rows(x_full.size(0));
  Tensor xf = take_rows(x_full, 0, x_full.size(0), true);
  Tensor yf = mask_full.defined() ? ref.forward_masked(xf, mask_full) : ref.forward(xf);
  yf.backward(dy_full);
  Tensor xl = take_rows(x_full, r0, r1, true), ml = take_rows(mask_full, r0, r1);
  Tensor yl = ml.defined() ? sync_bn.forward_masked(xl, ml) : sync_bn.forward(xl);
  yl.backward(take_rows(dy_full, r0, r1));
  check_close(yl, take_rows(yf, r0, r1), what + " y");
  check_close(xl.grad(), take_rows(xf.grad(), r0, r1), what + " dx");
}

void compare_state(BatchNorm& sync_bn, BatchNorm& ref, const std::string& what) {
  check_close(sync_bn.running_mean, ref.running_mean, what + " running_mean");
  check_close(sync_bn.running_var, ref.running_var, what + " running_var");
  check_same_on_every_rank(sync_bn.running_mean, what + " running_mean");
  check_same_on_every_rank(sync_bn.running_var, what + " running_var");
  check_close(summed_over_ranks(sync_bn.weight.grad()), ref.weight.grad(), what + " dgamma");
  check_close(summed_over_ranks(sync_bn.bias.grad()), ref.bias.grad(), what + " dbeta");
}

}  // namespace

// ---- run as each rank -----------------------------------------------------------------------

TEST_CASE("syncbn worker: sync BN over ranks equals BN on the whole batch", "[.mpi_worker_syncbn]") {
  REQUIRE(dist::size() > 1);
  const int64_t N = 13, C = 5;  // 13 rows: an uneven split over 2 and 3 ranks
  auto sbn = make_bn(C, true), ref = make_bn(C, false);
  for (int it = 0; it < 3; ++it) {
    Tensor x = batch_data({N, C}, 100 + it), dy = rand_tensor({N, C}, 200 + it, false);
    dist::reset_comm_stats();
    step_and_compare(*sbn, *ref, x, Tensor(), dy, "step " + std::to_string(it));
    // Per step: one all-gather of 2C+2 doubles forward, one all-reduce of 2C doubles backward
    // (the reference on the whole batch communicates nothing).
    CHECK(dist::comm_stats().calls == 2);
    CHECK(dist::comm_stats().bytes == (2 * C + 2 + 2 * C) * 8);
  }
  compare_state(*sbn, *ref, "(N,C)");
  // (B,T,C) input split over B; eval mode afterwards communicates nothing and agrees.
  Tensor x3 = batch_data({6, 3, C}, 300), dy3 = rand_tensor({6, 3, C}, 301, false);
  step_and_compare(*sbn, *ref, x3, Tensor(), dy3, "(B,T,C)");
  sbn->eval();
  ref->eval();
  dist::reset_comm_stats();
  const auto [b0, b1] = my_rows(6);
  check_close(sbn->forward(take_rows(x3, b0, b1)), take_rows(ref->forward(x3), b0, b1), "eval y");
  CHECK(dist::comm_stats().calls == 0);
}

TEST_CASE("syncbn worker: masked sync BN with different valid counts per rank", "[.mpi_worker_syncbn]") {
  const int64_t B = 6, T = 4, C = 3;
  // Valid steps per sequence: with 2 ranks rank 0 has 1 valid position (local BN could not
  // train on it) and rank 1 has 9; with 3 ranks 1, 4 and 5.
  const std::vector<int64_t> lengths{1, 0, 0, 4, 3, 2};
  Tensor mask = Tensor::zeros({B, T});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < lengths[b]; ++t) mask.set({b, t}, 1.0f);
  // Padded positions hold garbage: masked BN must ignore it, unmasked BN counts it.
  std::vector<float> xv = batch_data({B, T, C}, 400).to_vector();
  for (int64_t i = 0; i < B * T; ++i)
    if (mask.data()[i] == 0.0f) xv[i * C + 1] = 1e3f;
  Tensor x = Tensor::from_vector(xv, {B, T, C}), dy = rand_tensor({B, T, C}, 401, false);
  for (bool masked : {true, false}) {
    const std::string what = masked ? "masked" : "unmasked";
    auto sbn = make_bn(C, true, 0, masked), ref = make_bn(C, false, 0, masked);
    step_and_compare(*sbn, *ref, x, mask, dy, what);
    compare_state(*sbn, *ref, what);
  }
}

TEST_CASE("syncbn worker: per-step sync BN with the fallback on global counts", "[.mpi_worker_syncbn]") {
  const int64_t B = 6, C = 4, steps = 3;
  // Step masks over the whole batch. t1: 3 valid (1 on rank 0 of 2: local BN would fall back);
  // t2: 1 valid in all -> every rank falls back; t3 (statistics of step 2): 2 valid, 1 per rank.
  const std::vector<std::vector<float>> masks{
      {1, 1, 1, 1, 1, 1}, {1, 0, 0, 1, 1, 0}, {0, 0, 0, 0, 1, 0}, {0, 1, 0, 0, 0, 1}};
  auto sbn = make_bn(C, true, steps), ref = make_bn(C, false, steps);
  const auto [r0, r1] = my_rows(B);
  for (int64_t t = 0; t < 4; ++t) {
    Tensor m = Tensor::from_vector(masks[t], {B});
    Tensor x = batch_data({B, C}, 500 + t), dy = rand_tensor({B, C}, 600 + t, false);
    Tensor xf = take_rows(x, 0, B, true);
    Tensor yf = ref->forward_step(xf, t, m);
    yf.backward(dy);
    Tensor xl = take_rows(x, r0, r1, true);
    Tensor yl = sbn->forward_step(xl, t, take_rows(m, r0, r1));
    yl.backward(take_rows(dy, r0, r1));
    const std::string what = "step " + std::to_string(t);
    check_close(yl, take_rows(yf, r0, r1), what + " y");
    check_close(xl.grad(), take_rows(xf.grad(), r0, r1), what + " dx");
    CHECK(sbn->fallback_count() == ref->fallback_count());
  }
  CHECK(ref->fallback_count() == 1);
  compare_state(*sbn, *ref, "per-step");
}

TEST_CASE("syncbn worker: local BN on each rank equals BN on that rank's rows", "[.mpi_worker_syncbn]") {
  const int64_t N = 12, C = 4;
  Tensor x = batch_data({N, C}, 700), dy = rand_tensor({N, C}, 701, false);
  const auto [r0, r1] = my_rows(N);
  auto local = make_bn(C, false), ref = make_bn(C, false);
  dist::reset_comm_stats();
  Tensor xl = take_rows(x, r0, r1, true);
  Tensor yl = local->forward(xl);
  yl.backward(take_rows(dy, r0, r1));
  CHECK(dist::comm_stats().calls == 0);  // sync = false never communicates
  Tensor xh = take_rows(x, r0, r1, true);  // the reference: only this rank's half
  Tensor yh = ref->forward(xh);
  yh.backward(take_rows(dy, r0, r1));
  check_close(yl, yh, "local y", 0.0);
  check_close(xl.grad(), xh.grad(), "local dx", 0.0);
  check_close(local->weight.grad(), ref->weight.grad(), "local dgamma", 0.0);
  check_close(local->running_var, ref->running_var, "local running_var", 0.0);
  // ... and differs from BN on the whole batch (the half's statistics are not the batch's).
  auto whole = make_bn(C, false);
  Tensor yw = whole->forward(x);
  CHECK(test::max_abs_diff(yl, take_rows(yw, r0, r1)) > 1e-3);
}

TEST_CASE("syncbn worker: inside a LocalScope sync BN does not communicate", "[.mpi_worker_syncbn]") {
  if (dist::rank() == 0) {  // the others go straight to the barrier: a collective here would hang
    dist::LocalScope local;
    const int64_t N = 7, C = 3;
    Tensor x = batch_data({N, C}, 800), dy = rand_tensor({N, C}, 801, false);
    auto sbn = make_bn(C, true), ref = make_bn(C, false);
    dist::reset_comm_stats();
    Tensor xs = take_rows(x, 0, N, true), xr = take_rows(x, 0, N, true);
    Tensor ys = sbn->forward(xs);
    ys.backward(dy);
    CHECK(dist::comm_stats().calls == 0);
    Tensor yr = ref->forward(xr);
    yr.backward(dy);
    check_close(ys, yr, "LocalScope y", 0.0);
    check_close(xs.grad(), xr.grad(), "LocalScope dx", 0.0);
    check_close(sbn->running_var, ref->running_var, "LocalScope running_var", 0.0);
  }
  dist::barrier();
}

TEST_CASE("syncbn: 2 and 3 ranks match single-process BatchNorm", "[layers][batchnorm][syncbn][mpi]") {
  SKIP_WITHOUT_MPI();
  test::check_worker_tests_pass("[.mpi_worker_syncbn]", {2, 3}, 60);
}

// ---- single process ------------------------------------------------------------------------

TEST_CASE("syncbn: in a world of one sync BN is bit-identical to local BN",
          "[layers][batchnorm][syncbn]") {
  REQUIRE_FALSE(dist::collectives_enabled());
  const int64_t B = 5, T = 4, C = 6;
  Tensor x = batch_data({B, T, C}, 900), dy = rand_tensor({B, T, C}, 901, false);
  Tensor mask = Tensor::from_vector(std::vector<float>{1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0,
                                                       1, 0, 1, 0},
                                    {B, T});
  auto same = [](const Tensor& a, const Tensor& b) { return a.to_vector() == b.to_vector(); };
  auto s = make_bn(C, true), l = make_bn(C, false);
  dist::reset_comm_stats();
  for (int it = 0; it < 2; ++it) {
    Tensor xs = take_rows(x, 0, B, true), xl = take_rows(x, 0, B, true);
    Tensor ys = s->forward_masked(xs, mask), yl = l->forward_masked(xl, mask);
    ys.backward(dy);
    yl.backward(dy);
    CHECK(same(ys, yl));
    CHECK(same(xs.grad(), xl.grad()));
  }
  CHECK(same(s->weight.grad(), l->weight.grad()));
  CHECK(same(s->bias.grad(), l->bias.grad()));
  CHECK(same(s->running_mean, l->running_mean));
  CHECK(same(s->running_var, l->running_var));
  // Per step, including the fallback (one valid row).
  auto sp = make_bn(C, true, 2), lp = make_bn(C, false, 2);
  for (int64_t t = 0; t < 3; ++t) {
    Tensor m = t == 1 ? Tensor::from_vector({0, 0, 1, 0, 0}, {B}) : Tensor();
    Tensor xt = batch_data({B, C}, 910 + t);
    CHECK(same(sp->forward_step(xt, t, m), lp->forward_step(xt, t, m)));
  }
  CHECK(sp->fallback_count() == 1);
  CHECK(same(sp->running_var, lp->running_var));
  CHECK(dist::comm_stats().calls == 0);
  CHECK(s->extra_repr().find("sync=true") != std::string::npos);
}

TEST_CASE("syncbn: gradcheck of sync BN and of the sync kernel in a world of one",
          "[layers][batchnorm][syncbn][gradcheck]") {
  auto bn = make_bn(4, true);
  Tensor x = rand_tensor({3, 5, 4}, 14);
  Tensor mask = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0}, {3, 5});
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return bn->forward_masked(in[0], mask); },
                    std::vector<Tensor>{x, bn->weight, bn->bias});
  // sync_batch_norm itself, with the statistics merged from this process alone (the same
  // kernels the ranks use): gradients through the mean and variance are in its backward.
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
    return sync_batch_norm(in[0], mask, in[1], in[2], Tensor(), Tensor(),
                           sync_batch_stats(in[0], mask));
  }, std::vector<Tensor>{x, bn->weight, bn->bias});
  // ... and it gives batch_norm's output and dx bit for bit (the same stats and kernels).
  Tensor xa = take_rows(x, 0, 3, true), xb = take_rows(x, 0, 3, true);
  Tensor dy = rand_tensor({3, 5, 4}, 15, false);
  Tensor ya = sync_batch_norm(xa, mask, bn->weight, bn->bias, Tensor(), Tensor(),
                              sync_batch_stats(xa, mask));
  Tensor yb = batch_norm(xb, mask, bn->weight, bn->bias, Tensor(), Tensor(), true);
  ya.backward(dy);
  yb.backward(dy);
  CHECK(ya.to_vector() == yb.to_vector());
  CHECK(xa.grad().to_vector() == xb.grad().to_vector());
  // One valid row over all ranks: the training error, naming the ranks.
  Tensor one = Tensor::from_vector({0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {3, 5});
  REQUIRE_THROWS_MENTIONING(sync_batch_norm(x, one, Tensor(), Tensor(), Tensor(), Tensor(),
                                            sync_batch_stats(x, one)),
                            "more than 1 value", "ranks");
}

TEST_CASE("syncbn: the rank merge is Chan's update in rank order and stable at mean 1e4",
          "[layers][batchnorm][syncbn]") {
  // Four "ranks" with 5, 0, 1 and 9 valid rows of 3 features (one at 1e4 with spread 1e-2).
  const int64_t C = 3;
  const std::vector<int64_t> rows{5, 2, 1, 9};
  std::vector<double> records;
  std::vector<double> all;  // every valid value, feature-major later
  std::vector<std::vector<double>> by_feature(C);
  int64_t seed = 1000;
  for (size_t r = 0; r < rows.size(); ++r) {
    std::vector<float> v = rand_tensor({rows[r], C}, seed++, false, -1.0f, 1.0f).to_vector();
    for (int64_t i = 0; i < rows[r]; ++i) v[i * C] = 1e4f + 1e-2f * v[i * C];
    Tensor x = Tensor::from_vector(v, {rows[r], C});
    Tensor m = r == 1 ? Tensor::zeros({rows[r]}) : Tensor();  // rank 1: nothing valid
    const SyncBatchStats mine = sync_batch_stats(x, m);  // world of one: this "rank" alone
    records.push_back(static_cast<double>(rows[r]));
    records.push_back(static_cast<double>(mine.count));
    records.insert(records.end(), mine.mean.begin(), mine.mean.end());
    records.insert(records.end(), mine.m2.begin(), mine.m2.end());
    if (r != 1)
      for (int64_t i = 0; i < rows[r]; ++i)
        for (int64_t c = 0; c < C; ++c) by_feature[c].push_back(v[i * C + c]);
  }
  const SyncBatchStats s = merge_rank_moments(records.data(), static_cast<int>(rows.size()), C);
  CHECK(s.rows == 17);
  CHECK(s.count == 15);
  for (int64_t c = 0; c < C; ++c) {  // two-pass double reference
    double mean = 0, m2 = 0;
    for (double v : by_feature[c]) mean += v;
    mean /= static_cast<double>(by_feature[c].size());
    for (double v : by_feature[c]) m2 += (v - mean) * (v - mean);
    INFO("feature " << c << " mean " << s.mean[c] << " vs " << mean << ", M2 " << s.m2[c] << " vs " << m2);
    CHECK(std::abs(s.mean[c] - mean) <= 1e-8 * (std::abs(mean) + 1.0));
    // M2 ~ 5e-4 at mean 1e4: float rounding of the deviations only (E[x^2]-E[x]^2 in double
    // would lose ~1e-4 of it, in float all of it)
    CHECK(std::abs(s.m2[c] - m2) <= 1e-6 * m2);
  }
}
