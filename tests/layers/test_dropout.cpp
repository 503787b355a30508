// Dropout layer: train vs eval, keep rate and scaling, gradients through the mask, and a
// bit-identical mask sequence after restoring the "calls" buffer from a checkpoint; in a
// data-parallel job every rank its own masks (hidden "[.mpi_worker_dropout]" cases, run as 2
// and 3 ranks by the visible test at the bottom).
#include "core/distributed.h"
#include "core/ops.h"
#include "helpers.h"
#include "layers/dropout.h"
#include "layers/registry.h"
#include "mpi_run.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("Dropout zeroes about p and scales the rest by 1/(1-p); eval is identity", "[layers]") {
  Dropout d({0.25f}, 42);
  Tensor x = Tensor::ones({200, 100});
  Tensor y = d.forward(x);
  int64_t zeros = 0;
  for (float v : y.to_vector()) {
    if (v == 0.0f) ++zeros;
    else REQUIRE(v == Approx(1.0f / 0.75f).epsilon(1e-6));
  }
  // 20000 Bernoulli(0.25) draws: std of the fraction is ~0.003; 0.02 is over 6 sigma.
  REQUIRE(std::abs(double(zeros) / 20000 - 0.25) < 0.02);
  REQUIRE(d.calls() == 1);
  d.eval();
  REQUIRE(d.forward(x).same(x));
  REQUIRE(d.calls() == 1);  // eval draws nothing
  Dropout none({0.0f}, 1);
  REQUIRE(none.forward(x).same(x));
  REQUIRE_THROWS_AS(Dropout({1.0f}, 1), ValueError);
}

TEST_CASE("Dropout gradient flows through the kept elements, (N,C) and (B,T,C)", "[layers][gradcheck]") {
  for (const Shape& s : {Shape{6, 5}, Shape{2, 3, 4}}) {
    // Each evaluation would draw a new mask, so the check replays call 0 every time by
    // resetting the counter buffer: the function is then a fixed masked scaling.
    Dropout d({0.3f}, 7);
    auto f = [&](const std::vector<Tensor>& in) {
      d.named_buffers()[0].second.fill_(0.0f);
      return d.forward(in[0]);
    };
    REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor(s, 8)});
  }
}

TEST_CASE("Dropout masks differ per call and resume bit-identically from the calls buffer", "[layers]") {
  Rng rng(5);
  auto a = make_layer(json{{"type", "dropout"}, {"p", 0.5}}, LayerArgs{0, &rng});
  Tensor x = Tensor::ones({64});
  const auto m0 = a->forward(x).to_vector();
  const auto state = [&] {  // snapshot after one call
    std::map<std::string, Tensor> s;
    for (auto& [k, t] : a->state_dict()) s[k] = t.clone();
    return s;
  }();
  REQUIRE(state.at("calls").item() == 1.0f);
  const auto m1 = a->forward(x).to_vector();
  const auto m2 = a->forward(x).to_vector();
  REQUIRE(m0 != m1);
  REQUIRE(m1 != m2);
  // A fresh layer built from the same seed and given the saved buffers continues with m1, m2.
  Rng rng2(5);
  auto b = make_layer(json{{"type", "dropout"}, {"p", 0.5}}, LayerArgs{0, &rng2});
  b->load_state_dict(state);
  REQUIRE(b->forward(x).to_vector() == m1);
  REQUIRE(b->forward(x).to_vector() == m2);
  // Another seed gives another stream.
  Dropout c({0.5f}, std::dynamic_pointer_cast<Dropout>(a)->seed() + 1);
  REQUIRE(c.forward(x).to_vector() != m0);
}

// ---- ranks ---------------------------------------------------------------------------------

TEST_CASE("dropout worker: every rank draws its own masks, rank 0 the single-process ones",
          "[.mpi_worker_dropout]") {
  REQUIRE(dist::size() > 1);
  const int64_t n = 256;
  Dropout d({0.5f}, 42);  // the same seed on every rank, as after the start-of-run broadcast
  const Tensor x = Tensor::ones({n});
  for (uint64_t call = 0; call < 2; ++call) {
    const std::vector<float> mask = d.forward(x).to_vector();
    std::vector<double> mine(mask.begin(), mask.end()), all(static_cast<size_t>(n * dist::size()));
    dist::allgather(mine.data(), n, all.data());
    for (int a = 0; a < dist::size(); ++a)
      for (int b = a + 1; b < dist::size(); ++b)
        CHECK_FALSE(std::equal(all.begin() + a * n, all.begin() + (a + 1) * n, all.begin() + b * n));
    // Rank 0 draws what a single process with the same seed draws at this call.
    Rng single(mix_seed(42, call));
    const std::vector<float> expected = dropout(x, 0.5f, true, single).to_vector();
    CHECK(std::equal(expected.begin(), expected.end(), all.begin(),
                     [](float e, double g) { return static_cast<double>(e) == g; }));
  }
  CHECK(d.calls() == 2);
}

TEST_CASE("Dropout: 2 and 3 ranks draw different masks", "[layers][mpi]") {
  SKIP_WITHOUT_MPI();
  test::check_worker_tests_pass("[.mpi_worker_dropout]", {2, 3}, 60);
}
