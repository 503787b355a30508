// Reductions: sum/mean over all and over an axis (keepdim), max with indices; values by hand
// and against a naive reference, gradients through the harness.
#include <algorithm>

#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
// Naive sum over one axis (double accumulation), the reference for the blocked kernel.
Tensor reference_sum(const Tensor& a, int axis) {
  Shape out_shape = a.shape();
  out_shape.erase(out_shape.begin() + axis);
  const auto st = contiguous_strides(a.shape());
  std::vector<double> acc(shape_numel(out_shape), 0.0);
  for (int64_t flat = 0; flat < a.numel(); ++flat) {
    int64_t rem = flat, out_flat = 0;
    for (int d = 0; d < a.dim(); ++d) {
      const int64_t i = rem / st[d];
      rem %= st[d];
      if (d != axis) out_flat = out_flat * a.shape()[d] + i;
    }
    acc[out_flat] += a.data()[flat];
  }
  return Tensor::from_vector(std::vector<float>(acc.begin(), acc.end()), out_shape);
}

// Values 0.1 * (a permutation of 0..n-1): distinct, at least 0.1 apart (no ties within the
// finite-difference step), for max.
Tensor distinct_values(const Shape& s, uint64_t seed) {
  const int64_t n = shape_numel(s);
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = 0.1f * static_cast<float>(i);
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[rng.randint(i + 1)]);
  return Tensor::from_vector(v, s).requires_grad_();
}
}  // namespace

TEST_CASE("sum over all values and gradient", "[ops][gradcheck]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(sum(a).item() == 21.0f);
  REQUIRE(sum(a).shape() == Shape{});
  for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}})
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return sum(in[0]); },
                      std::vector<Tensor>{rand_tensor(s, 1)});
}

TEST_CASE("sum over an axis values, keepdim and negative axes", "[ops]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(sum(a, 0).to_vector() == std::vector<float>{5, 7, 9});
  REQUIRE(sum(a, 1).to_vector() == std::vector<float>{6, 15});
  REQUIRE(sum(a, -1).to_vector() == std::vector<float>{6, 15});
  REQUIRE(sum(a, 0).shape() == Shape{3});
  REQUIRE(sum(a, 0, true).shape() == Shape{1, 3});
  REQUIRE(sum(a, 1, true).shape() == Shape{2, 1});
  // the blocked kernel (inner > 256 columns, several blocks) against the naive reference
  Tensor big = rand_tensor({3, 5, 600}, 2, false);
  for (int axis = 0; axis < 3; ++axis) {
    INFO("axis " << axis);
    REQUIRE(nl::test::max_abs_diff(sum(big, axis), reference_sum(big, axis)) < 1e-5);
  }
}

TEST_CASE("sum over an axis gradient", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{6}, Shape{3, 4}, Shape{2, 3, 4}})
    for (int64_t axis = 0; axis < static_cast<int64_t>(s.size()); ++axis)
      for (bool keep : {false, true}) {
        INFO(shape_str(s) << " axis " << axis << " keepdim " << keep);
        REQUIRE_GRADCHECK(
            [=](const std::vector<Tensor>& in) { return sum(in[0], axis, keep); },
            std::vector<Tensor>{rand_tensor(s, 3 + axis)});
      }
}

TEST_CASE("mean over all and over an axis values", "[ops]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  REQUIRE(mean(a).item() == 3.5f);
  REQUIRE(mean(a, 0).to_vector() == std::vector<float>{2.5f, 3.5f, 4.5f});
  REQUIRE(mean(a, 1, true).to_vector() == std::vector<float>{2, 5});
  REQUIRE(mean(a, 1, true).shape() == Shape{2, 1});
  // a (B,T,C) mean over T
  Tensor x = rand_tensor({2, 3, 4}, 4, false);
  Tensor m = mean(x, 1);
  REQUIRE(m.at({1, 2}) == Approx((x.at({1, 0, 2}) + x.at({1, 1, 2}) + x.at({1, 2, 2})) / 3));
}

TEST_CASE("mean gradient over all and over each axis", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{6}, Shape{3, 4}, Shape{2, 3, 4}}) {
    REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return mean(in[0]); },
                      std::vector<Tensor>{rand_tensor(s, 5)});
    for (int64_t axis = 0; axis < static_cast<int64_t>(s.size()); ++axis)
      REQUIRE_GRADCHECK([=](const std::vector<Tensor>& in) { return mean(in[0], axis, true); },
                        std::vector<Tensor>{rand_tensor(s, 6 + axis)});
  }
}

TEST_CASE("max over an axis gives values, first-maximum indices and their gradient",
          "[ops]") {
  Tensor a = Tensor::from_vector({1, 5, 5, 2, 0, -1, 7, 7}, {2, 4});
  MaxResult r = max(a, 1);
  REQUIRE(r.values.to_vector() == std::vector<float>{5, 7});
  REQUIRE(r.indices.to_vector() == std::vector<float>{1, 2});  // first of the ties
  MaxResult c = max(a, 0, true);
  REQUIRE(c.values.shape() == Shape{1, 4});
  REQUIRE(c.values.to_vector() == std::vector<float>{1, 5, 7, 7});
  REQUIRE(c.indices.to_vector() == std::vector<float>{0, 0, 1, 1});
  REQUIRE(!r.indices.requires_grad());
  // the gradient goes to the first maximal element only
  Tensor t = a.clone().requires_grad_();
  sum(max(t, 1).values).backward();
  REQUIRE(t.grad().to_vector() == std::vector<float>{0, 1, 0, 0, 0, 0, 1, 0});
}

TEST_CASE("max gradient on several shapes and axes", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{6}, Shape{3, 4}, Shape{2, 3, 4}})
    for (int64_t axis = 0; axis < static_cast<int64_t>(s.size()); ++axis) {
      INFO(shape_str(s) << " axis " << axis);
      REQUIRE_GRADCHECK(
          [=](const std::vector<Tensor>& in) { return max(in[0], axis).values; },
          std::vector<Tensor>{distinct_values(s, 10 + axis)});
    }
}

TEST_CASE("reductions reject bad axes naming the op and the shape", "[ops][errors]") {
  Tensor a = Tensor::zeros({2, 3});
  REQUIRE_THROWS_MENTIONING(sum(a, 2), "sum", "axis 2", "rank 2");
  REQUIRE_THROWS_MENTIONING(mean(a, -3), "mean", "axis -3");
  REQUIRE_THROWS_MENTIONING(max(a, 5), "max", "axis 5");
  REQUIRE_THROWS_MENTIONING(max(Tensor::zeros({2, 0}), 1), "max", "(2, 0)");
}

TEST_CASE("sum reductions are identical at 1 and 2 threads", "[ops][threads]") {
  Tensor x = rand_tensor({64, 40, 300}, 11, false);
  nl::ThreadCountGuard restore_threads;
  set_num_threads(1);
  const float s1 = sum(x).item();
  Tensor a1 = sum(x, 1), b1 = mean(x, 2);
  set_num_threads(2);
  const float s2 = sum(x).item();
  Tensor a2 = sum(x, 1), b2 = mean(x, 2);
  REQUIRE(a1.to_vector() == a2.to_vector());  // each output is one serial accumulation
  REQUIRE(b1.to_vector() == b2.to_vector());
  REQUIRE(s1 == Approx(s2).epsilon(1e-6));     // partials differ by chunking, sum in double
}
