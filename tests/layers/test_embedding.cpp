// Embedding layer: lookup values, gradient into the table (repeated ids accumulate), N(0,1) init.
#include <cmath>

#include "helpers.h"
#include "layers/embedding.h"

using namespace nl;

TEST_CASE("Embedding looks up rows of its table for (N) and (B,T) ids", "[layers]") {
  Rng rng(1);
  Embedding emb({4, 2}, rng);
  emb.weight.copy_(Tensor::from_vector({0, 1, 10, 11, 20, 21, 30, 31}, {4, 2}));
  REQUIRE(emb.forward(Tensor::from_vector({2, 0}, {2})).to_vector() == std::vector<float>{20, 21, 0, 1});
  Tensor y = emb.forward(Tensor::from_vector({3, 3, 1, 0, 2, 1}, {2, 3}));
  REQUIRE(y.shape() == Shape{2, 3, 2});
  REQUIRE(y.at({1, 1, 1}) == 21.0f);
  REQUIRE(emb.output_features(0) == 2);
  REQUIRE(emb.print() == "Embedding(num_embeddings=4, embedding_dim=2)");
}

TEST_CASE("Embedding gradient of the table with repeated ids, (N) and (B,T)", "[layers][gradcheck]") {
  Rng rng(2);
  Embedding emb({5, 3}, rng);
  for (const Tensor& ids : {Tensor::from_vector({1, 4, 1, 0}, {4}),
                            Tensor::from_vector({2, 2, 3, 0, 4, 2}, {2, 3})}) {
    auto f = [&](const std::vector<Tensor>&) { return emb.forward(ids); };
    REQUIRE_GRADCHECK(f, std::vector<Tensor>{emb.weight});
  }
}

TEST_CASE("Embedding init is N(0,1) and seeded", "[layers][init]") {
  Rng rng(3);
  Embedding emb({1000, 64}, rng);
  double sum = 0, sq = 0;
  for (float w : emb.weight.to_vector()) {
    sum += w;
    sq += double(w) * w;
  }
  const double n = 64000, mean = sum / n, std = std::sqrt(sq / n - mean * mean);
  // 64000 draws: the standard error of the mean is 1/sqrt(n) ~ 0.004, of the std ~ 0.003.
  REQUIRE(std::abs(mean) < 0.02);
  REQUIRE(std::abs(std - 1.0) < 0.02);
  Rng again(3);
  REQUIRE(Embedding({1000, 64}, again).weight.to_vector() == emb.weight.to_vector());
}

TEST_CASE("Embedding rejects out-of-range ids and bad sizes", "[layers][errors]") {
  Rng rng(4);
  Embedding emb({3, 2}, rng);
  REQUIRE_THROWS_AS(emb.forward(Tensor::from_vector({0, 3}, {2})), Error);
  REQUIRE_THROWS_AS(emb.forward(Tensor::from_vector({-1}, {1})), Error);
  REQUIRE_THROWS_AS(Embedding({0, 2}, rng), ValueError);
}
