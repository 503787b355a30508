// Shape ops: reshape/slice views, transpose/permute (materialising), concat and stack along
// every axis; values against a naive index reference, gradients, errors.
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
// Naive permute: out[idx] = a[idx permuted back], element by element.
Tensor reference_permute(const Tensor& a, const std::vector<int64_t>& dims) {
  const int r = a.dim();
  Shape out_shape(r);
  for (int k = 0; k < r; ++k) out_shape[k] = a.shape()[dims[k]];
  Tensor out = Tensor::empty(out_shape);
  const auto ost = contiguous_strides(out_shape), ist = contiguous_strides(a.shape());
  for (int64_t flat = 0; flat < out.numel(); ++flat) {
    int64_t rem = flat, src = 0;
    for (int k = 0; k < r; ++k) {
      src += (rem / ost[k]) * ist[dims[k]];
      rem %= ost[k];
    }
    out.data()[flat] = a.data()[src];
  }
  return out;
}
}  // namespace

TEST_CASE("reshape gradient and view semantics", "[ops][gradcheck]") {
  Tensor a = Tensor::arange(0, 6);
  Tensor v = a.reshape({2, -1});
  REQUIRE(v.shape() == Shape{2, 3});
  v.set({1, 0}, 42);  // a view: shares storage
  REQUIRE(a.at({3}) == 42);
  for (const Shape& to : {Shape{6}, Shape{3, 2}, Shape{1, 2, 3}})
    REQUIRE_GRADCHECK([=](const std::vector<Tensor>& in) { return reshape(in[0], to); },
                      std::vector<Tensor>{rand_tensor({2, 3}, 1)});
  REQUIRE_THROWS_MENTIONING(reshape(Tensor::zeros({2, 3}), {4, 2}), "reshape", "(2, 3)", "(4, 2)");
}

TEST_CASE("slice gradient on outer and inner axes", "[ops][gradcheck]") {
  for (int64_t axis = 0; axis < 3; ++axis)
    REQUIRE_GRADCHECK([=](const std::vector<Tensor>& in) { return slice(in[0], axis, 1, 3); },
                      std::vector<Tensor>{rand_tensor({3, 4, 5}, 2 + axis)});
  Tensor a = Tensor::arange(0, 12).reshape({3, 4});
  REQUIRE(slice(a, 1, 1, 3).to_vector() == std::vector<float>{1, 2, 5, 6, 9, 10});
  REQUIRE(slice(a, 0, -1, 3).to_vector() == std::vector<float>{8, 9, 10, 11});
  REQUIRE_THROWS_MENTIONING(slice(a, 1, 2, 5), "slice", "(3, 4)");
}

TEST_CASE("transpose values and gradient", "[ops][gradcheck]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = transpose(a, 0, 1);
  REQUIRE(t.shape() == Shape{3, 2});
  REQUIRE(t.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  REQUIRE(a.transpose(-1, -2).to_vector() == t.to_vector());
  Tensor x = rand_tensor({2, 3, 4}, 3, false);
  Tensor y = transpose(x, 1, 2);
  REQUIRE(y.shape() == Shape{2, 4, 3});
  REQUIRE(y.at({1, 3, 2}) == x.at({1, 2, 3}));
  REQUIRE(transpose(x, 0, 0).to_vector() == x.to_vector());
  for (auto [i, j] : {std::pair{0, 1}, std::pair{1, 2}, std::pair{0, 2}})
    REQUIRE_GRADCHECK([=](const std::vector<Tensor>& in) { return transpose(in[0], i, j); },
                      std::vector<Tensor>{rand_tensor({2, 3, 4}, 4)});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 1); },
                    std::vector<Tensor>{rand_tensor({3, 5}, 5)});
  REQUIRE_THROWS_MENTIONING(transpose(a, 0, 2), "transpose", "axis 2");
}

TEST_CASE("permute agrees with the naive reference and has the right gradient",
          "[ops][gradcheck]") {
  Tensor x = rand_tensor({2, 3, 4, 5}, 6, false);
  for (const std::vector<int64_t>& dims :
       {std::vector<int64_t>{0, 2, 1, 3}, {3, 2, 1, 0}, {1, 0, 3, 2}, {0, 1, 2, 3}, {2, 0, 3, 1}})
    REQUIRE(permute(x, dims).to_vector() == reference_permute(x, dims).to_vector());
  // (B,T,H,D) -> (B,H,T,D) on a size that takes the parallel path
  Tensor big = rand_tensor({8, 64, 4, 32}, 7, false);
  REQUIRE(permute(big, {0, 2, 1, 3}).to_vector() ==
          reference_permute(big, {0, 2, 1, 3}).to_vector());
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); },
                    std::vector<Tensor>{rand_tensor({2, 3, 4}, 8)});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return permute(in[0], {1, 0}); },
                    std::vector<Tensor>{rand_tensor({3, 4}, 9)});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return permute(in[0], {0, 2, 1, 3}); },
                    std::vector<Tensor>{rand_tensor({2, 3, 2, 3}, 10)});
}

TEST_CASE("permute with bad dims names the op and the shape", "[ops][errors]") {
  Tensor x = Tensor::zeros({2, 3, 4});
  REQUIRE_THROWS_MENTIONING(permute(x, {0, 1}), "permute", "[0, 1]", "(2, 3, 4)");
  REQUIRE_THROWS_MENTIONING(permute(x, {0, 1, 1}), "permute", "[0, 1, 1]", "(2, 3, 4)");
  REQUIRE_THROWS_MENTIONING(permute(x, {0, 1, 3}), "permute", "(2, 3, 4)");
}

TEST_CASE("concat values along every axis", "[ops]") {
  Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector({5, 6}, {1, 2});
  Tensor c = Tensor::from_vector({7, 8}, {2, 1});
  REQUIRE(concat({a, b}, 0).to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  REQUIRE(concat({a, b}, 0).shape() == Shape{3, 2});
  REQUIRE(concat({a, c}, 1).to_vector() == std::vector<float>{1, 2, 7, 3, 4, 8});
  REQUIRE(concat({a, c, a}, -1).shape() == Shape{2, 5});
  Tensor x = rand_tensor({2, 3, 4}, 1, false), y = rand_tensor({2, 1, 4}, 2, false);
  Tensor z = concat({x, y}, 1);
  REQUIRE(z.shape() == Shape{2, 4, 4});
  REQUIRE(z.at({1, 3, 2}) == y.at({1, 0, 2}));
  REQUIRE(z.at({1, 2, 2}) == x.at({1, 2, 2}));
  // an empty piece is allowed
  REQUIRE(concat({a, Tensor::zeros({0, 2})}, 0).to_vector() == a.to_vector());
}

TEST_CASE("concat gradient along every axis of 2-D and 3-D inputs", "[ops][gradcheck]") {
  auto f = [](int64_t axis) {
    return [=](const std::vector<Tensor>& in) { return concat(in, axis); };
  };
  REQUIRE_GRADCHECK(f(0), std::vector<Tensor>{rand_tensor({2, 3}, 1), rand_tensor({1, 3}, 2)});
  REQUIRE_GRADCHECK(f(1), std::vector<Tensor>{rand_tensor({2, 3}, 3), rand_tensor({2, 2}, 4)});
  for (int64_t axis = 0; axis < 3; ++axis) {
    Shape s1{2, 3, 4}, s2{2, 3, 4};
    s2[axis] = 1;
    REQUIRE_GRADCHECK(f(axis), std::vector<Tensor>{rand_tensor(s1, 5), rand_tensor(s2, 6),
                                                   rand_tensor(s1, 7)});
  }
  // one input without grad, one used twice
  Tensor a = rand_tensor({2, 2}, 8), k = rand_tensor({2, 2}, 9, false);
  Tensor y = concat({a, k, a}, 1);
  sum(y).backward();
  REQUIRE(a.grad().to_vector() == std::vector<float>{2, 2, 2, 2});
}

TEST_CASE("concat of mismatched shapes names the op and both shapes", "[ops][errors]") {
  REQUIRE_THROWS_MENTIONING(concat({Tensor::zeros({2, 3}), Tensor::zeros({2, 4})}, 0), "concat",
                            "(2, 3)", "(2, 4)");
  REQUIRE_THROWS_MENTIONING(concat({Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 1})}, 0),
                            "concat", "(2, 3)", "(2, 3, 1)");
  REQUIRE_THROWS_AS(concat({}, 0), ShapeError);
  REQUIRE_THROWS_MENTIONING(concat({Tensor::zeros({2})}, 1), "concat", "axis 1");
}

TEST_CASE("stack values along every axis", "[ops]") {
  Tensor a = Tensor::from_vector({1, 2, 3}, {3}), b = Tensor::from_vector({4, 5, 6}, {3});
  REQUIRE(stack({a, b}, 0).shape() == Shape{2, 3});
  REQUIRE(stack({a, b}, 0).to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6});
  REQUIRE(stack({a, b}, 1).shape() == Shape{3, 2});
  REQUIRE(stack({a, b}, -1).to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  Tensor x = rand_tensor({2, 3}, 1, false), y = rand_tensor({2, 3}, 2, false);
  Tensor s = stack({x, y}, 1);
  REQUIRE(s.shape() == Shape{2, 2, 3});
  REQUIRE(s.at({1, 1, 2}) == y.at({1, 2}));
}

TEST_CASE("stack gradient along every axis", "[ops][gradcheck]") {
  for (int64_t axis = 0; axis <= 3; ++axis) {
    INFO("axis " << axis);
    REQUIRE_GRADCHECK([=](const std::vector<Tensor>& in) { return stack(in, axis); },
                      std::vector<Tensor>{rand_tensor({2, 3, 2}, 1), rand_tensor({2, 3, 2}, 2),
                                          rand_tensor({2, 3, 2}, 3)});
  }
  REQUIRE_THROWS_MENTIONING(stack({Tensor::zeros({2, 3}), Tensor::zeros({3, 2})}, 0), "stack",
                            "(2, 3)", "(3, 2)");
  REQUIRE_THROWS_MENTIONING(stack({Tensor::zeros({2, 3})}, 3), "stack", "axis 3");
}
