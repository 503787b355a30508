// The fused linear op (y = x Wᵀ + b in one sgemm onto the bias): values against the unfused
// matmul + add, gradients (including accumulation into existing .grad), shape errors.
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("linear matches hand-computed values", "[ops][linear]") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = Tensor::from_vector({1, 0, -1, 2, 1, 0}, {2, 3});
  Tensor b = Tensor::from_vector({10, 20}, {2});
  REQUIRE(linear(x, w, b).to_vector() == std::vector<float>{8, 24, 8, 33});
  REQUIRE(linear(x, w).to_vector() == std::vector<float>{-2, 4, -2, 13});
}

TEST_CASE("linear agrees with matmul plus add, 2-D and 3-D, with and without bias",
          "[ops][linear]") {
  for (int64_t in : {5, 200, 784}) {  // 784: K larger than one OpenBLAS K block
    Tensor x = rand_tensor({3, 7, in}, 1, false);
    Tensor w = rand_tensor({9, in}, 2, false);
    Tensor b = rand_tensor({9}, 3, false);
    const Tensor ref = add(matmul(x, w, false, true), b);
    const Tensor got = linear(x, w, b);
    REQUIRE(got.shape() == Shape{3, 7, 9});
    REQUIRE(nl::test::max_abs_diff(got, ref) < 1e-5 * in);
    REQUIRE(nl::test::max_abs_diff(linear(x.reshape({21, in}), w), matmul(x.reshape({21, in}), w, false, true)) == 0.0);
  }
}

TEST_CASE("linear gradients by finite differences", "[ops][linear][gradcheck]") {
  auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  auto no_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  REQUIRE_GRADCHECK(with_bias, std::vector<Tensor>{rand_tensor({4, 3}, 4), rand_tensor({5, 3}, 5),
                                                   rand_tensor({5}, 6)});
  REQUIRE_GRADCHECK(with_bias, std::vector<Tensor>{rand_tensor({2, 3, 4}, 7),
                                                   rand_tensor({2, 4}, 8), rand_tensor({2}, 9)});
  REQUIRE_GRADCHECK(no_bias, std::vector<Tensor>{rand_tensor({2, 3, 4}, 10), rand_tensor({6, 4}, 11)});
}

TEST_CASE("linear backward accumulates into existing gradients like matmul plus add",
          "[ops][linear]") {
  // Two backward passes without zero_grad: the second adds onto the first (beta = 1 path).
  auto run = [](bool fused) {
    Tensor x = rand_tensor({6, 4}, 12), w = rand_tensor({3, 4}, 13), b = rand_tensor({3}, 14);
    for (int pass = 0; pass < 2; ++pass) {
      Tensor y = fused ? linear(x, w, b) : add(matmul(x, w, false, true), b);
      sum(mul(y, y)).backward();
    }
    return std::vector<Tensor>{x.grad(), w.grad(), b.grad()};
  };
  const auto fused = run(true), unfused = run(false);
  for (size_t i = 0; i < fused.size(); ++i)
    REQUIRE(nl::test::max_abs_diff(fused[i], unfused[i]) < 1e-4);
  // x used twice in one graph: both contributions reach x.grad.
  Tensor x = rand_tensor({2, 4}, 15), w = rand_tensor({3, 4}, 16);
  sum(add(linear(x, w), linear(x, w))).backward();
  Tensor x2 = x.detach().clone();
  x2.requires_grad_(true);
  Tensor w2 = w.detach().clone();
  sum(mul_scalar(matmul(x2, w2, false, true), 2.0f)).backward();
  REQUIRE(nl::test::max_abs_diff(x.grad(), x2.grad()) < 1e-5);
}

TEST_CASE("linear with a wrong input width names the op and both shapes", "[ops][linear][errors]") {
  REQUIRE_THROWS_MENTIONING(linear(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})), "linear",
                            "(2, 3)", "(4, 5)");
  REQUIRE_THROWS_MENTIONING(linear(Tensor::zeros({2, 5}), Tensor::zeros({4, 5}), Tensor::zeros({3})),
                            "linear", "bias", "(3,)");
}

TEST_CASE("linear's dx and dW at 2 threads are the 1-thread bits (run at once, not split)",
          "[ops][linear][threads]") {
  nl::ThreadCountGuard restore_threads;
  auto grads = [](int threads) {
    set_num_threads(threads);
    // Batch 64, 256 -> 256: dx and dW have 4 M multiply-adds each, which sgemm_pair runs at
    // once on 2 threads. The upstream gradient is a fixed tensor (the loss is linear in y), so
    // the forward, which is split over the threads and rounds differently, does not reach the
    // gradients; twice, so that the second pass adds onto the first (beta = 1).
    Tensor x = rand_tensor({64, 256}, 17), w = rand_tensor({256, 256}, 18), b = rand_tensor({256}, 19);
    const Tensor dy = rand_tensor({64, 256}, 20, false);
    for (int pass = 0; pass < 2; ++pass) sum(mul(linear(x, w, b), dy)).backward();
    return std::vector<std::vector<float>>{x.grad().to_vector(), w.grad().to_vector(),
                                           b.grad().to_vector()};
  };
  const auto one = grads(1), two = grads(2);
  for (size_t i = 0; i < one.size(); ++i) REQUIRE(one[i] == two[i]);
}
