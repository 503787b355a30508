// embedding: gather by hand, scatter-add backward (repeated ids), ids of several shapes,
// out-of-range ids.
#include "helpers.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("embedding gathers rows for ids of any shape", "[ops]") {
  Tensor w = Tensor::from_vector({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor out = embedding(w, Tensor::from_vector({2, 0, 2}, {3}));
  REQUIRE(out.shape() == Shape{3, 2});
  REQUIRE(out.to_vector() == std::vector<float>{20, 21, 0, 1, 20, 21});
  Tensor out2 = embedding(w, Tensor::from_vector({1, 2, 0, 1}, {2, 2}));
  REQUIRE(out2.shape() == Shape{2, 2, 2});
  REQUIRE(out2.at({1, 0, 1}) == 1.0f);
  REQUIRE(out2.at({0, 1, 0}) == 20.0f);
}

TEST_CASE("embedding backward scatter-adds, repeated ids accumulate", "[ops]") {
  Tensor w = Tensor::zeros({4, 3}).requires_grad_();
  Tensor ids = Tensor::from_vector({1, 3, 1}, {3});
  Tensor up = Tensor::from_vector({1, 2, 3, 10, 20, 30, 100, 200, 300}, {3, 3});
  embedding(w, ids).backward(up);
  REQUIRE(w.grad().to_vector() ==
          std::vector<float>{0, 0, 0, 101, 202, 303, 0, 0, 0, 10, 20, 30});
}

TEST_CASE("embedding gradient for 1-D, 2-D and (B,T) ids", "[ops][gradcheck]") {
  for (const Shape& s : {Shape{5}, Shape{2, 3}, Shape{2, 2, 3}}) {
    Rng rng(static_cast<uint64_t>(s.size()));
    Tensor ids = Tensor::empty(s);
    for (int64_t i = 0; i < ids.numel(); ++i) ids.data()[i] = static_cast<float>(rng.randint(4));
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(in[0], ids); },
                      std::vector<Tensor>{rand_tensor({4, 3}, 1)});
  }
}

TEST_CASE("embedding rejects out-of-range ids and a non-2-D table", "[ops][errors]") {
  Tensor w = Tensor::zeros({3, 2});
  REQUIRE_THROWS_AS(embedding(w, Tensor::from_vector({0, 3}, {2})), ValueError);
  REQUIRE_THROWS_MENTIONING(embedding(w, Tensor::from_vector({0, 3}, {2})), "embedding", "id 3",
                            "3 rows");
  REQUIRE_THROWS_MENTIONING(embedding(w, Tensor::from_vector({-1}, {1})), "id -1");
  REQUIRE_THROWS_MENTIONING(embedding(w, Tensor::from_vector({0.5f}, {1})), "id 0.5");
  REQUIRE_THROWS_MENTIONING(embedding(Tensor::zeros({6}), Tensor::zeros({2})), "embedding",
                            "(6,)", "(2,)");
}

TEST_CASE("embedding backward is identical at 1 and 2 threads", "[ops][threads]") {
  Rng rng(3);
  Tensor ids = Tensor::empty({4000});
  for (int64_t i = 0; i < ids.numel(); ++i) ids.data()[i] = static_cast<float>(rng.randint(50));
  Tensor up = rand_tensor({4000, 64}, 4, false);
  std::vector<float> grads[2];
  nl::ThreadCountGuard restore_threads;
  for (int t : {1, 2}) {
    set_num_threads(t);
    Tensor w = rand_tensor({50, 64}, 5);
    embedding(w, ids).backward(up);
    grads[t - 1] = w.grad().to_vector();
  }
  REQUIRE(grads[0] == grads[1]);
}
