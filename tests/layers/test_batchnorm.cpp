// BatchNorm: fused kernel vs naive double reference and vs the primitive-op composition,
// gradchecks (train, eval, masked; x, gamma, beta), running statistics by hand, the
// one-value-per-feature error, masking == unpadded data, large means, constant features,
// determinism, per-time-step statistics (reuse beyond the last step, <2 valid rows fallback).
#include <cstring>

#include "helpers.h"
#include "layers/batchnorm.h"
#include "layers/kernels/batchnorm.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

double worst_rel(const float* a, const std::vector<double>& ref, double atol) {
  double w = 0.0;
  for (size_t i = 0; i < ref.size(); ++i)
    w = std::max(w, std::abs(a[i] - ref[i]) / (atol + std::abs(ref[i])));
  return w;
}

std::shared_ptr<BatchNorm> make_bn(int64_t C, uint64_t seed, int64_t steps = 0) {
  BatchNormOptions o;
  o.features = C;
  o.steps = steps;
  auto bn = std::make_shared<BatchNorm>(o);
  Rng rng(seed);  // non-trivial gamma/beta so their index and their gradients matter
  bn->weight.copy_(Tensor::uniform({C}, 0.5f, 1.5f, rng));
  bn->bias.copy_(Tensor::uniform({C}, -0.5f, 0.5f, rng));
  return bn;
}

// A (B,T) mask with lengths[b] valid steps per row.
// kernels::batchnorm_stats of x (R, C) against the double reference: the mean (hi + lo) within
// mean_tol, the variance within var_rel relative.
void check_stats_against_double(const Tensor& x, double mean_tol, double var_rel) {
  const int64_t C = x.size(-1), R = x.numel() / C;
  Tensor mean = Tensor::empty({C}), lo = Tensor::empty({C}), var = Tensor::empty({C}),
         rstd = Tensor::empty({C});
  kernels::batchnorm_stats(x.data(), nullptr, R, C, 1e-5f, mean.data(), lo.data(), var.data(),
                           rstd.data());
  auto ref = kernels::batchnorm_reference(x, Tensor(), Tensor(), Tensor(), Tensor(), 1e-5, true);
  for (int64_t c = 0; c < C; ++c) {
    INFO("channel " << c);
    CHECK(std::abs(mean.data()[c] + static_cast<double>(lo.data()[c]) - ref.mean[c]) < mean_tol);
    CHECK(std::abs(var.data()[c] - ref.var[c]) <= var_rel * ref.var[c]);
  }
}

Tensor length_mask(const std::vector<int64_t>& lengths, int64_t T) {
  const int64_t B = static_cast<int64_t>(lengths.size());
  Tensor m = Tensor::zeros({B, T});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < lengths[b]; ++t) m.set({b, t}, 1.0f);
  return m;
}

// A masked training forward + backward of bn against the masked double reference: y, dx, dgamma
// and dbeta within 1e-4 relative (1e-3 absolute floor).
void check_masked_against_double(BatchNorm& bn, const Tensor& x, const Tensor& dy,
                                 const Tensor& mask) {
  Tensor y = bn.forward_masked(x, mask);
  y.backward(dy);
  const auto ref = kernels::batchnorm_reference(x, mask, bn.weight, bn.bias, dy, 1e-5, true);
  CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-4);
  CHECK(worst_rel(x.grad().data(), ref.dx, 1e-3) < 1e-4);
  CHECK(worst_rel(bn.weight.grad().data(), ref.dgamma, 1e-3) < 1e-4);
  CHECK(worst_rel(bn.bias.grad().data(), ref.dbeta, 1e-3) < 1e-4);
}

}  // namespace

TEST_CASE("BatchNorm fused kernel matches the naive double reference (train and eval)",
          "[layers][batchnorm]") {
  for (Shape shape : {Shape{6, 5}, Shape{4, 7, 33}, Shape{300, 70}}) {
    const int64_t C = shape.back();
    auto bn = make_bn(C, 3);
    Tensor x = rand_tensor(shape, 1, true, -2.0f, 3.0f);
    Tensor dy = rand_tensor(shape, 2, false);
    bn->forward(x).backward(dy);
    auto ref = kernels::batchnorm_reference(x, Tensor(), bn->weight, bn->bias, dy, 1e-5, true);
    // float32 kernels vs double: a few ulps of O(1) values
    CHECK(worst_rel(bn->forward(x).data(), ref.y, 1e-3) < 1e-4);
    CHECK(worst_rel(x.grad().data(), ref.dx, 1e-3) < 1e-4);
    CHECK(worst_rel(bn->weight.grad().data(), ref.dgamma, 1e-3) < 1e-4);
    CHECK(worst_rel(bn->bias.grad().data(), ref.dbeta, 1e-3) < 1e-4);

    bn->eval();
    x.zero_grad();
    bn->forward(x).backward(dy);
    ref = kernels::batchnorm_reference(x, Tensor(), bn->weight, bn->bias, dy, 1e-5, false,
                                       bn->running_mean, bn->running_var);
    CHECK(worst_rel(bn->forward(x).data(), ref.y, 1e-3) < 1e-4);
    CHECK(worst_rel(x.grad().data(), ref.dx, 1e-3) < 1e-4);
  }
}

TEST_CASE("BatchNorm gradcheck in training mode on (N,C) and (B,T,C)",
          "[layers][batchnorm][gradcheck]") {
  for (Shape shape : {Shape{6, 4}, Shape{3, 4, 5}, Shape{2, 2, 3}}) {
    auto bn = make_bn(shape.back(), 7);
    Tensor x = rand_tensor(shape, 11);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
      return batch_norm(in[0], Tensor(), in[1], in[2], Tensor(), Tensor(), true);
    }, std::vector<Tensor>{x, bn->weight, bn->bias});
  }
}

TEST_CASE("BatchNorm gradcheck in eval mode (running statistics)", "[layers][batchnorm][gradcheck]") {
  auto bn = make_bn(5, 8);
  bn->running_mean.copy_(rand_tensor({5}, 9, false));
  bn->running_var.copy_(rand_tensor({5}, 10, false, 0.5f, 2.0f));
  bn->eval();
  Tensor x = rand_tensor({2, 3, 5}, 12);
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], Tensor(), in[1], in[2], bn->running_mean, bn->running_var, false);
  }, std::vector<Tensor>{x, bn->weight, bn->bias});
}

TEST_CASE("BatchNorm gradcheck with a mask: padded positions get output 0 and no gradient",
          "[layers][batchnorm][gradcheck]") {
  auto bn = make_bn(4, 13);
  Tensor x = rand_tensor({3, 5, 4}, 14);
  Tensor mask = length_mask({5, 2, 3}, 5);
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], mask, in[1], in[2], Tensor(), Tensor(), true);
  }, std::vector<Tensor>{x, bn->weight, bn->bias});
  x.zero_grad();
  Tensor y = bn->forward_masked(x, mask);
  y.backward(rand_tensor({3, 5, 4}, 15, false));
  for (int64_t c = 0; c < 4; ++c) {
    CHECK(y.at({1, 3, c}) == 0.0f);
    CHECK(x.grad().at({1, 3, c}) == 0.0f);
    CHECK(x.grad().at({2, 4, c}) == 0.0f);
  }
}

TEST_CASE("BatchNorm masked output equals unmasked BatchNorm on the data without padding",
          "[layers][batchnorm]") {
  const std::vector<int64_t> lengths{4, 1, 3};
  const int64_t T = 4, C = 6;
  auto bn_masked = make_bn(C, 21), bn_plain = make_bn(C, 21);
  // Padding filled with large junk: it must not matter.
  Tensor x = rand_tensor({3, T, C}, 22, true, -1.0f, 1.0f);
  Tensor mask = length_mask(lengths, T);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = lengths[b]; t < T; ++t)
      for (int64_t c = 0; c < C; ++c) x.set({b, t, c}, 100.0f + c);
  // The valid rows gathered into (n, C).
  std::vector<float> rows;
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = 0; t < lengths[b]; ++t)
      for (int64_t c = 0; c < C; ++c) rows.push_back(x.at({b, t, c}));
  Tensor xp = Tensor::from_vector(rows, {8, C}).requires_grad_();
  Tensor dyp = rand_tensor({8, C}, 23, false);
  Tensor dy = Tensor::zeros({3, T, C});
  int64_t k = 0;
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = 0; t < lengths[b]; ++t, ++k)
      for (int64_t c = 0; c < C; ++c) dy.set({b, t, c}, dyp.at({k, c}));

  Tensor ym = bn_masked->forward_masked(x, mask);
  Tensor yp = bn_plain->forward(xp);
  ym.backward(dy);
  yp.backward(dyp);
  k = 0;
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t t = 0; t < lengths[b]; ++t, ++k)
      for (int64_t c = 0; c < C; ++c) {
        CHECK(ym.at({b, t, c}) == Approx(yp.at({k, c})).margin(1e-5));  // same math, other order
        CHECK(x.grad().at({b, t, c}) == Approx(xp.grad().at({k, c})).margin(1e-5));
      }
  CHECK(nl::test::max_abs_diff(bn_masked->weight.grad(), bn_plain->weight.grad()) < 1e-5);
  CHECK(nl::test::max_abs_diff(bn_masked->bias.grad(), bn_plain->bias.grad()) < 1e-5);
  CHECK(nl::test::max_abs_diff(bn_masked->running_mean, bn_plain->running_mean) < 1e-6);
  CHECK(nl::test::max_abs_diff(bn_masked->running_var, bn_plain->running_var) < 1e-6);
}

TEST_CASE("BatchNorm masked kernel matches the masked double reference (vectors, tails, mixed rows)",
          "[layers][batchnorm]") {
  // C = 37: two 16-wide vectors and a tail; the lengths put valid and padded rows in the same
  // group of four rows (the kernels sweep four rows at a time where all four are valid).
  const std::vector<int64_t> lengths{7, 2, 5, 1, 6};
  const int64_t T = 7, C = 37;
  auto bn = make_bn(C, 31);
  Tensor x = rand_tensor({5, T, C}, 32, true, -2.0f, 3.0f);
  Tensor dy = rand_tensor({5, T, C}, 33, false);
  Tensor mask = length_mask(lengths, T);
  check_masked_against_double(*bn, x, dy, mask);
}

TEST_CASE("BatchNorm kernels above 1 MiB (the reductions prefetch) match the double reference",
          "[layers][batchnorm]") {
  // 4500 x 70 floats (1.26 MB): the statistics and gradient sums prefetch rows ahead, up to the
  // last rows (where they stop at the end of x); C = 70 leaves a 6-wide tail, every 10th row is
  // padded, so valid and padded rows share sweeps.
  const int64_t R = 4500, C = 70;
  auto bn = make_bn(C, 91);
  Tensor x = rand_tensor({R, C}, 92, true, -2.0f, 3.0f);
  Tensor dy = rand_tensor({R, C}, 93, false);
  Tensor mask = Tensor::ones({R});
  for (int64_t r = 3; r < R; r += 10) mask.data()[r] = 0.0f;
  check_masked_against_double(*bn, x, dy, mask);
}

TEST_CASE("BatchNorm gradient sums over whole rows of 512 and more equal the masked path's",
          "[layers][batchnorm]") {
  // Without a mask, rows of kConsecutiveMinC floats and more take grad_sums_consecutive (row
  // pointers and a stride); a mask of ones takes grad_sums_rows. The same sums in the same order:
  // equal bit for bit, and within 1e-4 of a double reference. 1100 rows of 512 (2.2 MB: rows
  // prefetched ahead, the last ones not) and 300 of 1024.
  for (auto [R, C] : {std::pair<int64_t, int64_t>{1100, 512}, {300, 1024}}) {
    INFO(R << " x " << C);
    Tensor x = rand_tensor({R, C}, 95, false, -2.0f, 3.0f);
    Tensor dy = rand_tensor({R, C}, 96, false);
    Tensor ones = Tensor::ones({R});
    std::vector<float> mean(C), lo(C), var(C), rstd(C);
    kernels::batchnorm_stats(x.data(), nullptr, R, C, 1e-5f, mean.data(), lo.data(), var.data(),
                             rstd.data());
    std::vector<double> plain(2 * C), masked(2 * C);
    kernels::batchnorm_grad_sums(dy.data(), x.data(), nullptr, mean.data(), lo.data(), R, C,
                                 plain.data());
    kernels::batchnorm_grad_sums(dy.data(), x.data(), ones.data(), mean.data(), lo.data(), R, C,
                                 masked.data());
    CHECK(std::memcmp(plain.data(), masked.data(), plain.size() * sizeof(double)) == 0);
    double worst = 0.0;
    for (int64_t c = 0; c < C; ++c) {
      const double m = static_cast<double>(mean[c]) + lo[c];
      double sdy = 0.0, sdx = 0.0;
      for (int64_t r = 0; r < R; ++r) {
        sdy += dy.data()[r * C + c];
        sdx += dy.data()[r * C + c] * (x.data()[r * C + c] - m);
      }
      worst = std::max(worst, std::abs(plain[c] - sdy) / (1.0 + std::abs(sdy)));
      worst = std::max(worst, std::abs(plain[C + c] - sdx) / (1.0 + std::abs(sdx)));
    }
    CHECK(worst < 1e-4);
  }
}

TEST_CASE("BatchNorm running statistics after 3 steps match a hand computation",
          "[layers][batchnorm]") {
  BatchNormOptions o;
  o.features = 2;
  BatchNorm bn(o);
  // Three batches of 4 rows; feature 0 and 1 with hand-checkable mean / variance.
  const std::vector<std::vector<float>> batches = {
      {1, 10, 2, 20, 3, 30, 4, 40}, {0, 0, 0, 0, 2, 4, 2, 4}, {5, -1, 5, 1, 5, -1, 5, 1}};
  // batch means: (2.5, 25), (1, 2), (5, 0); unbiased variances (n/(n-1) = 4/3):
  // (1.25*4/3, 125*4/3), (1*4/3, 4*4/3), (0, 1*4/3)
  const double means[3][2] = {{2.5, 25}, {1, 2}, {5, 0}};
  const double uvars[3][2] = {{1.25 * 4 / 3, 125.0 * 4 / 3}, {4.0 / 3, 16.0 / 3}, {0, 4.0 / 3}};
  double rm[2] = {0, 0}, rv[2] = {1, 1};
  for (int s = 0; s < 3; ++s) {
    bn.forward(Tensor::from_vector(batches[s], {4, 2}));
    for (int c = 0; c < 2; ++c) {
      rm[c] = 0.9 * rm[c] + 0.1 * means[s][c];
      rv[c] = 0.9 * rv[c] + 0.1 * uvars[s][c];
    }
  }
  // after 3 steps, feature 0: rm = 0.9*(0.9*0.25+0.1)+0.5 = 0.7925
  CHECK(rm[0] == Approx(0.7925));
  for (int64_t c = 0; c < 2; ++c) {
    CHECK(bn.running_mean.at({c}) == Approx(rm[c]).epsilon(1e-6));
    CHECK(bn.running_var.at({c}) == Approx(rv[c]).epsilon(1e-6));
  }
}

TEST_CASE("BatchNorm eval mode normalises with the running statistics", "[layers][batchnorm]") {
  auto bn = make_bn(3, 31);
  bn->running_mean.copy_(Tensor::from_vector({1, -2, 0.5f}, {3}));
  bn->running_var.copy_(Tensor::from_vector({4, 0.25f, 1}, {3}));
  bn->eval();
  Tensor x = rand_tensor({5, 3}, 32, false);
  Tensor y = bn->forward(x);
  for (int64_t r = 0; r < 5; ++r)
    for (int64_t c = 0; c < 3; ++c) {
      const double want = (x.at({r, c}) - bn->running_mean.at({c})) /
                              std::sqrt(bn->running_var.at({c}) + 1e-5) * bn->weight.at({c}) +
                          bn->bias.at({c});
      CHECK(y.at({r, c}) == Approx(want).margin(1e-6));
    }
  // eval does not touch the running statistics, and works at batch size 1
  CHECK(bn->running_mean.at({1}) == -2.0f);
  Tensor y1 = bn->forward(Tensor::ones({1, 3}));
  CHECK(std::isfinite(y1.at({0, 0})));
}

TEST_CASE("BatchNorm training with one value per feature is an error", "[layers][batchnorm][errors]") {
  auto bn = make_bn(4, 41);
  REQUIRE_THROWS_MENTIONING(bn->forward(Tensor::ones({1, 4})),
                            "expected more than 1 value per channel when training", "(1, 4)");
  REQUIRE_THROWS_MENTIONING(bn->forward(Tensor::ones({1, 1, 4})), "more than 1 value");
  // Masking all but one position is the same error.
  Tensor mask = Tensor::from_vector({1, 0, 0}, {3});
  REQUIRE_THROWS_MENTIONING(bn->forward_masked(Tensor::ones({3, 4}), mask), "1 valid position");
  REQUIRE_THROWS_AS(bn->forward(Tensor::ones({2, 5})), ShapeError);
  REQUIRE_THROWS_AS(bn->forward_masked(Tensor::ones({3, 4}), Tensor::ones({4})), ShapeError);
}

TEST_CASE("BatchNorm features of mean 1e4 and std 1e-2 match a double reference to 1e-3",
          "[layers][batchnorm][numerics]") {
  const int64_t R = 3000, C = 5;  // several statistics blocks
  Rng rng(51);
  Tensor x = Tensor::normal({R, C}, 1e4f, 1e-2f, rng);
  check_stats_against_double(x, 1e-5, 1e-3);
  auto bn = make_bn(C, 52);
  Tensor y = bn->forward(x);
  auto ref = kernels::batchnorm_reference(x, Tensor(), bn->weight, bn->bias, Tensor(), 1e-5, true);
  CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-3);  // O(1) outputs: 1e-3 relative, 1e-3 floor
}

TEST_CASE("BatchNorm dx folds the mean into its constant only where every |mean| <= std",
          "[layers][batchnorm][numerics]") {
  const float m[3] = {0.5f, -0.99f, 0.0f}, rstd[3] = {1.0f, 1.0f, 4.0f}, zero[3] = {0, 0, 0};
  CHECK(kernels::dx_mean_folds(m, zero, rstd, 3));
  const float far[3] = {0.5f, -1.01f, 0.0f};  // one channel a little past its std
  CHECK_FALSE(kernels::dx_mean_folds(far, zero, rstd, 3));
  const float lo[3] = {0.0f, -0.02f, 0.0f};  // the mean's low part counts too: -1.01 again
  CHECK_FALSE(kernels::dx_mean_folds(m, lo, rstd, 3));
  const float wide[3] = {0.5f, -0.99f, 0.3f};  // 0.3 * 4 > 1: std 0.25
  CHECK_FALSE(kernels::dx_mean_folds(wide, zero, rstd, 3));
  const float nan[3] = {0.5f, std::nanf(""), 0.0f};
  CHECK_FALSE(kernels::dx_mean_folds(nan, zero, rstd, 3));
}

TEST_CASE("BatchNorm dx with the mean folded (|mean| < std) and explicit (mean 1e4) match double",
          "[layers][batchnorm][numerics]") {
  // The same noise (std 1) shifted by 0.7 — the backward takes dx = p*dy + q - s*x — and by
  // 1e4, where s*x and q would cancel to 1e-4 of their size and the backward keeps x - mean.
  // Both must be as close to the double reference: a few float32 ulps of the largest dx.
  const int64_t R = 2000, C = 40;  // C: two 16-wide vectors and a tail
  Rng rng(81);
  const Tensor noise = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
  const Tensor dy = Tensor::normal({R, C}, 0.3f, 1.0f, rng);
  for (float shift : {0.7f, 1e4f}) {
    INFO("shift " << shift);
    Tensor x = Tensor::empty({R, C});
    for (int64_t i = 0; i < R * C; ++i) x.data()[i] = noise.data()[i] + shift;
    x.requires_grad_();
    std::vector<float> mean(C), lo(C), var(C), rstd(C);
    kernels::batchnorm_stats(x.data(), nullptr, R, C, 1e-5f, mean.data(), lo.data(), var.data(),
                             rstd.data());
    CHECK(kernels::dx_mean_folds(mean.data(), lo.data(), rstd.data(), C) == (shift < 1.0f));
    auto bn = make_bn(C, 82);
    bn->forward(x).backward(dy);
    const auto ref =
        kernels::batchnorm_reference(x, Tensor(), bn->weight, bn->bias, dy, 1e-5, true);
    double worst = 0.0, largest = 0.0;
    for (int64_t i = 0; i < R * C; ++i) {
      worst = std::max(worst, std::abs(x.grad().data()[i] - ref.dx[i]));
      largest = std::max(largest, std::abs(ref.dx[i]));
    }
    CHECK(worst < 4e-7 * largest);
  }
}

TEST_CASE("BatchNorm statistics stay accurate when the row blocks' means differ (sorted rows)",
          "[layers][batchnorm][numerics]") {
  // 1638 rows per statistics block at C = 20: block k holds rows of mean 1e3·k + 1e4, std 1, so
  // the one-pass shift (the mean of the rows before) is far off and those blocks take two
  // passes; the shuffled copy takes one pass after the first block. Both against double: the
  // mean to 1e-6 relative, the variance to 1e-5.
  const int64_t R = 6000, C = 20;
  Rng rng(71);
  Tensor noise = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
  for (bool sorted : {true, false}) {
    Tensor x = Tensor::empty({R, C});
    for (int64_t r = 0; r < R; ++r) {
      const int64_t block = (sorted ? r : (r * 7919) % R) / 1638;
      for (int64_t c = 0; c < C; ++c)
        x.data()[r * C + c] = 1e4f + 1e3f * static_cast<float>(block) + noise.data()[r * C + c];
    }
    INFO("sorted " << sorted);
    check_stats_against_double(x, 1e-2, 1e-5);  // means 1e4-1.3e4: 1e-6 relative
  }
}

TEST_CASE("BatchNorm statistics stay accurate when a first block's first 32 rows are unrepresentative",
          "[layers][batchnorm][numerics]") {
  // A chunk's first block shifts its one-pass sums by the mean of its first 32 rows. Here
  // those rows sit 1e3 above the rest (std 1, mean 1e4): that shift is ~7 of the block's
  // standard deviations off its mean, the check must send the block to two passes, and the
  // statistics still match double (1638-row blocks at C = 20, one chunk).
  const int64_t R = 3276, C = 20;
  Rng rng(72);
  Tensor x = Tensor::normal({R, C}, 1e4f, 1.0f, rng);
  for (int64_t r = 0; r < 32; ++r)
    for (int64_t c = 0; c < C; ++c) x.data()[r * C + c] += 1e3f;
  check_stats_against_double(x, 1e-2, 1e-5);
}

TEST_CASE("BatchNorm statistics read 16 rows a sweep where C is a multiple of 16 and match double",
          "[layers][batchnorm][numerics]") {
  // Where the statistics pass prefetches nothing (x of at most 1 MiB, as here) and C is a
  // multiple of 16, it sums 16 rows a sweep (deviation_sums_grouped: 4 groups of 4), the rest 4
  // and 1 at a time. 300 rows of 64: one block, 18 sweeps of 16 and 3 of 4; 201 rows of 1024:
  // blocks of 32 rows, 2 sweeps of 16 each, a last block of 9 rows (2 of 4 and 1); 4096 rows of
  // 32 in 1024-row blocks of means 1e4 + 1e3·k, sorted (two chunks of two blocks): each chunk's
  // second block takes the two-pass fallback after a grouped pass. Mean and variance against
  // double.
  for (auto [R, C] : {std::pair<int64_t, int64_t>{300, 64}, {201, 1024}}) {
    INFO(R << " x " << C);
    check_stats_against_double(rand_tensor({R, C}, 97, false, -2.0f, 3.0f), 1e-5, 1e-5);
  }
  const int64_t R = 4096, C = 32;
  Rng rng(98);
  Tensor x = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < C; ++c)
      x.data()[r * C + c] += 1e4f + 1e3f * static_cast<float>(r / 1024);
  check_stats_against_double(x, 1e-2, 1e-5);
}

TEST_CASE("BatchNorm of a constant feature gives beta and finite gradients (no NaN)",
          "[layers][batchnorm][numerics]") {
  auto bn = make_bn(3, 61);
  Tensor x = rand_tensor({6, 3}, 62);
  for (int64_t r = 0; r < 6; ++r) x.set({r, 1}, 4.0f);
  Tensor y = bn->forward(x);
  y.backward(rand_tensor({6, 3}, 63, false));
  for (int64_t r = 0; r < 6; ++r) {
    CHECK(y.at({r, 1}) == Approx(bn->bias.at({1})).margin(1e-6));
    for (int64_t c = 0; c < 3; ++c) CHECK(std::isfinite(x.grad().at({r, c})));
  }
  CHECK(std::isfinite(bn->running_var.at({1})));
}

TEST_CASE("BatchNorm dgamma/dbeta/dx are bit-identical across runs", "[layers][batchnorm][determinism]") {
  nl::ThreadCountGuard restore_threads;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    auto bn = make_bn(96, 71);
    Tensor x = rand_tensor({2048, 96}, 72);
    Tensor dy = rand_tensor({2048, 96}, 73, false);
    std::vector<float> g0, b0, x0;
    for (int run = 0; run < 2; ++run) {
      bn->zero_grad();
      x.zero_grad();
      bn->forward(x).backward(dy);
      if (run == 0) {
        g0 = bn->weight.grad().to_vector();
        b0 = bn->bias.grad().to_vector();
        x0 = x.grad().to_vector();
      } else {
        CHECK(std::memcmp(g0.data(), bn->weight.grad().data(), 96 * sizeof(float)) == 0);
        CHECK(std::memcmp(b0.data(), bn->bias.grad().data(), 96 * sizeof(float)) == 0);
        CHECK(x0 == x.grad().to_vector());
      }
    }
  }
}

TEST_CASE("BatchNorm kernels give bit-identical results at 1 and 2 threads, masked or not",
          "[layers][batchnorm][determinism]") {
  // Rows are split across threads; the fixed chunk partition must make the thread count
  // invisible. 4096 x 64 spans several reduction chunks; rows ending in 7 are masked.
  const int64_t R = 4096, C = 64;
  Tensor x = rand_tensor({R, C}, 81, false);
  Tensor dy = rand_tensor({R, C}, 82, false);
  Tensor g = rand_tensor({C}, 83, false), mk = Tensor::ones({R});
  for (int64_t r = 7; r < R; r += 10) mk.data()[r] = 0.0f;
  nl::ThreadCountGuard restore_threads;
  std::vector<std::vector<float>> out[2];
  for (int t = 0; t < 2; ++t) {
    set_num_threads(t + 1);
    const float* masks[2] = {nullptr, mk.data()};
    for (const float* mask : masks) {
      const int64_t n = mask ? count_valid(mk, R) : R;
      std::vector<float> mean(C), lo(C), var(C), rstd(C), y(R * C), dx(R * C), dg(C), db(C);
      kernels::batchnorm_stats(x.data(), mask, R, C, 1e-5f, mean.data(), lo.data(), var.data(),
                               rstd.data());
      kernels::batchnorm_apply(x.data(), mask, g.data(), nullptr, mean.data(), lo.data(),
                               rstd.data(), R, C, y.data());
      kernels::NormGrads grads;
      grads.dx = dx.data();
      grads.dgamma = dg.data();
      grads.dbeta = db.data();
      kernels::batchnorm_backward(dy.data(), x.data(), mask, g.data(), mean.data(), lo.data(),
                                  rstd.data(), R, C, n, true, grads);
      if (mask)
        for (int64_t c = 0; c < C; ++c) CHECK(y[7 * C + c] == 0.0f);
      for (auto* v : {&mean, &lo, &var, &rstd, &y, &dx, &dg, &db}) out[t].push_back(*v);
    }
  }
  REQUIRE(out[0].size() == out[1].size());
  for (size_t i = 0; i < out[0].size(); ++i) CHECK(out[0][i] == out[1][i]);
}

TEST_CASE("BatchNorm per-step statistics: one set per step, the last one reused beyond",
          "[layers][batchnorm]") {
  auto bn = make_bn(3, 81, /*steps=*/2);
  REQUIRE(bn->running_mean.shape() == Shape{2, 3});
  Tensor x0 = rand_tensor({4, 3}, 82, false, 0.0f, 1.0f);
  Tensor x1 = rand_tensor({4, 3}, 83, false, 5.0f, 7.0f);
  Tensor x2 = rand_tensor({4, 3}, 84, false, -9.0f, -8.0f);
  bn->forward_step(x0, 0);
  bn->forward_step(x1, 1);
  // Step 0's row holds 0.1 * (x0's batch mean); step 1's row only x1's.
  auto r0 = kernels::batchnorm_reference(x0, Tensor(), Tensor(), Tensor(), Tensor(), 1e-5, true);
  auto r1 = kernels::batchnorm_reference(x1, Tensor(), Tensor(), Tensor(), Tensor(), 1e-5, true);
  for (int64_t c = 0; c < 3; ++c) {
    CHECK(bn->running_mean.at({0, c}) == Approx(0.1 * r0.mean[c]).epsilon(1e-5));
    CHECK(bn->running_mean.at({1, c}) == Approx(0.1 * r1.mean[c]).epsilon(1e-5));
    CHECK(bn->running_var.at({1, c}) == Approx(0.9 + 0.1 * r1.var[c] * 4 / 3).epsilon(1e-5));
  }
  // t = 5 >= steps: updates the last step's statistics.
  const float before = bn->running_mean.at({1, 0});
  bn->forward_step(x2, 5);
  auto r2 = kernels::batchnorm_reference(x2, Tensor(), Tensor(), Tensor(), Tensor(), 1e-5, true);
  CHECK(bn->running_mean.at({1, 0}) == Approx(0.9 * before + 0.1 * r2.mean[0]).epsilon(1e-5));
  // Eval at t = 40 uses step 1's running statistics.
  bn->eval();
  Tensor y = bn->forward_step(x0, 40);
  auto want = kernels::batchnorm_reference(x0, Tensor(), bn->weight, bn->bias, Tensor(), 1e-5,
                                           false, bn->running_mean.slice(0, 1, 2).reshape({3}),
                                           bn->running_var.slice(0, 1, 2).reshape({3}));
  CHECK(worst_rel(y.data(), want.y, 1e-3) < 1e-4);
  REQUIRE_THROWS_AS(bn->forward(x0), ValueError);  // per-step mode needs forward_step
}

TEST_CASE("BatchNorm per-step with fewer than 2 valid rows falls back to running statistics",
          "[layers][batchnorm][gradcheck]") {
  auto bn = make_bn(3, 91, /*steps=*/4);
  bn->running_mean.copy_(rand_tensor({4, 3}, 92, false));
  bn->running_var.copy_(rand_tensor({4, 3}, 93, false, 0.5f, 2.0f));
  const std::vector<float> rm_before = bn->running_mean.to_vector();
  const std::vector<float> rv_before = bn->running_var.to_vector();
  Tensor x = rand_tensor({3, 3}, 94);
  Tensor mask = Tensor::from_vector({0, 1, 0}, {3});  // one sequence still running at t = 2
  Tensor y = bn->forward_step(x, 2, mask);
  CHECK(bn->fallback_count() == 1);
  CHECK(bn->running_mean.to_vector() == rm_before);  // not updated
  CHECK(bn->running_var.to_vector() == rv_before);
  auto want = kernels::batchnorm_reference(x, mask, bn->weight, bn->bias, Tensor(), 1e-5, false,
                                           bn->running_mean.slice(0, 2, 3).reshape({3}),
                                           bn->running_var.slice(0, 2, 3).reshape({3}));
  CHECK(worst_rel(y.data(), want.y, 1e-3) < 1e-4);
  CHECK(y.at({0, 0}) == 0.0f);  // padded row
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return bn->forward_step(in[0], 2, mask); },
                    std::vector<Tensor>{x, bn->weight, bn->bias});
  // Two valid rows: batch statistics again, and the step's running stats move.
  Tensor mask2 = Tensor::from_vector({1, 1, 0}, {3});
  bn->forward_step(x, 2, mask2);
  CHECK(bn->running_mean.at({2, 0}) != rm_before[2 * 3 + 0]);
  CHECK(bn->running_mean.at({0, 0}) == rm_before[0]);  // other steps untouched
  // A batch of a single row is still the error, not a silent fallback (pitfall 2).
  REQUIRE_THROWS_AS(bn->forward_step(Tensor::ones({1, 3}), 0), ValueError);
}

TEST_CASE("BatchNorm forward_step with steps = 0 shares one set of statistics over time",
          "[layers][batchnorm]") {
  auto bn = make_bn(2, 101);
  REQUIRE(bn->running_mean.shape() == Shape{2});
  Tensor a = Tensor::from_vector({0, 0, 2, 4}, {2, 2});
  Tensor b = Tensor::from_vector({4, 8, 6, 12}, {2, 2});
  Tensor ya = bn->forward_step(a, 0);
  bn->forward_step(b, 7);
  // The shared running mean saw step 0 and step 7: 0.9 * 0.1 * (1, 2) + 0.1 * (5, 10).
  CHECK(bn->running_mean.at({0}) == Approx(0.09 * 1 + 0.5));
  CHECK(bn->running_mean.at({1}) == Approx(0.09 * 2 + 1.0));
  // training output at a step uses that step's batch statistics: ±1 before the affine
  CHECK(ya.at({0, 0}) == Approx(-bn->weight.at({0}) * (1.0 / std::sqrt(1.0 + 1e-5)) + bn->bias.at({0})));
}

TEST_CASE("BatchNorm agrees with the same function composed from primitive ops",
          "[layers][batchnorm]") {
  auto bn = make_bn(7, 111);
  Tensor x1 = rand_tensor({12, 7}, 112, true, -2.0f, 4.0f);
  Tensor x2 = x1.clone().requires_grad_();
  Tensor w2 = bn->weight.clone().requires_grad_(), b2 = bn->bias.clone().requires_grad_();
  Tensor dy = rand_tensor({12, 7}, 113, false);
  Tensor fused = bn->forward(x1);
  Tensor mu = mean(x2, 0, true);
  Tensor xc = x2 - mu;
  Tensor composed = xc / sqrt(mean(xc * xc, 0, true) + 1e-5f) * w2 + b2;
  fused.backward(dy);
  composed.backward(dy);
  // both float32, different operation order
  CHECK(nl::test::max_abs_diff(fused, composed) < 1e-5);
  CHECK(nl::test::max_abs_diff(x1.grad(), x2.grad()) < 1e-4);
  CHECK(nl::test::max_abs_diff(bn->weight.grad(), w2.grad()) < 1e-4);
  CHECK(nl::test::max_abs_diff(bn->bias.grad(), b2.grad()) < 1e-4);
}

TEST_CASE("BatchNorm from the registry: keys, weight_init, steps", "[layers][batchnorm][registry]") {
  Rng rng(0);
  auto m = make_layer(json{{"type", "batchnorm"}, {"momentum", 0.2}, {"weight_init", 0.1},
                           {"steps", 28}},
                      LayerArgs{16, &rng});
  auto* bn = dynamic_cast<BatchNorm*>(m.get());
  REQUIRE(bn != nullptr);
  CHECK(bn->options().momentum == Approx(0.2));
  CHECK(bn->weight.at({3}) == Approx(0.1f));
  CHECK(bn->running_var.shape() == Shape{28, 16});
  CHECK(m->named_buffers().size() == 2);
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "batchnorm"}}, LayerArgs{}), "features");
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "batchnorm"}, {"momentum", 1.5}}, LayerArgs{4, &rng}), "momentum");
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "batchnorm"}, {"momentun", 0.1}}, LayerArgs{4, &rng}), "momentum");
}

TEST_CASE("BatchNorm masked false: padded positions enter the statistics as valid ones",
          "[layers][batchnorm][unmasked]") {
  // PyTorch's BatchNorm1d (issue #70529): the mask is ignored, so forward_masked(x, mask) must be
  // exactly the plain BatchNorm of every row, padding included (output, gradients, running stats).
  const int64_t T = 4, C = 5;
  BatchNormOptions o;
  o.features = C;
  o.masked = false;
  auto bn_u = std::make_shared<BatchNorm>(o);
  auto bn_plain = make_bn(C, 31), bn_masked = make_bn(C, 31);
  bn_u->weight.copy_(bn_plain->weight);
  bn_u->bias.copy_(bn_plain->bias);
  Tensor x = rand_tensor({3, T, C}, 32, true, -1.0f, 1.0f);
  const Tensor mask = length_mask({4, 1, 3}, T);
  for (int64_t t = 1; t < T; ++t)  // padding with values far from the valid ones
    for (int64_t c = 0; c < C; ++c) x.set({1, t, c}, 7.0f + c);
  Tensor xp = x.detach().clone().requires_grad_();
  const Tensor dy = rand_tensor({3, T, C}, 33, false);

  Tensor yu = bn_u->forward_masked(x, mask);
  Tensor yp = bn_plain->forward(xp);
  yu.backward(dy);
  yp.backward(dy);
  CHECK(yu.to_vector() == yp.to_vector());  // same kernel, same rows: bit-identical
  CHECK(x.grad().to_vector() == xp.grad().to_vector());
  CHECK(bn_u->weight.grad().to_vector() == bn_plain->weight.grad().to_vector());
  CHECK(bn_u->running_mean.to_vector() == bn_plain->running_mean.to_vector());
  CHECK(bn_u->running_var.to_vector() == bn_plain->running_var.to_vector());
  CHECK(yu.at({1, 2, 0}) != 0.0f);  // padded positions are normalised, not zeroed
  CHECK(x.grad().at({1, 2, 0}) != 0.0f);

  // The masked one (default) is unchanged: padding out of the statistics, output 0 there.
  Tensor ym = bn_masked->forward_masked(x.detach(), mask);
  CHECK(ym.at({1, 2, 0}) == 0.0f);
  CHECK(nl::test::max_abs_diff(bn_masked->running_mean, bn_plain->running_mean) > 0.1);

  // forward_step ignores the step mask too, and a (B) mask with one valid row does not fall
  // back to running statistics (there are 3 rows).
  o.steps = 2;
  BatchNorm step_u(o), step_plain(o);
  o.masked = true;
  BatchNorm step_m(o);
  const Tensor xs = rand_tensor({3, C}, 34, false);
  const Tensor ms = Tensor::from_vector({1, 0, 0}, {3});
  CHECK(step_u.forward_step(xs, 1, ms).to_vector() == step_plain.forward_step(xs, 1).to_vector());
  CHECK(step_u.running_mean.to_vector() == step_plain.running_mean.to_vector());
  CHECK(step_u.fallback_count() == 0);
  step_m.forward_step(xs, 1, ms);
  CHECK(step_m.fallback_count() == 1);
}

TEST_CASE("BatchNorm masked false gradcheck with a mask (padded rows in the statistics)",
          "[layers][batchnorm][unmasked][gradcheck]") {
  BatchNormOptions o;
  o.features = 3;
  o.masked = false;
  BatchNorm bn(o);
  const Tensor mask = length_mask({4, 2, 1}, 4);
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return bn.forward_masked(in[0], mask); },
                    std::vector<Tensor>{rand_tensor({3, 4, 3}, 35), bn.weight, bn.bias});
}

TEST_CASE("BatchNorm masked key from the registry", "[layers][batchnorm][registry][unmasked]") {
  Rng rng(0);
  auto m = make_layer(json{{"type", "batchnorm"}}, LayerArgs{4, &rng});
  CHECK(dynamic_cast<BatchNorm*>(m.get())->options().masked);
  auto u = make_layer(json{{"type", "batchnorm"}, {"masked", false}}, LayerArgs{4, &rng});
  CHECK_FALSE(dynamic_cast<BatchNorm*>(u.get())->options().masked);
  CHECK(u->extra_repr().find("masked=false") != std::string::npos);
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "batchnorm"}, {"masked", "no"}}, LayerArgs{4, &rng}, "model.norm"),
      "model.norm.masked");
}
