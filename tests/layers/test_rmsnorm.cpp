// RMSNorm: fused kernel vs naive double reference and vs the primitive-op composition,
// gradchecks on 2-D and 3-D inputs with and without weight, registry; the "none" norm.
#include "helpers.h"
#include "layers/identity.h"
#include "layers/rmsnorm.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
std::shared_ptr<RMSNorm> make_rms(int64_t C, bool affine, uint64_t seed) {
  RMSNormOptions o;
  o.features = C;
  o.affine = affine;
  auto m = std::make_shared<RMSNorm>(o);
  if (affine) {
    Rng rng(seed);
    m->weight.copy_(Tensor::uniform({C}, 0.5f, 1.5f, rng));
  }
  return m;
}
}  // namespace

TEST_CASE("RMSNorm fused kernel matches the naive double reference", "[layers][rmsnorm]") {
  // 700 rows of 96 (269 KB): the forward takes them in three blocks, last block first.
  for (Shape shape : {Shape{5, 7}, Shape{3, 4, 64}, Shape{700, 96}}) {
    const int64_t C = shape.back();
    auto rms = make_rms(C, true, 1);
    Tensor x = rand_tensor(shape, 2, true, -2.0f, 3.0f);
    Tensor dy = rand_tensor(shape, 3, false);
    Tensor y = rms->forward(x);
    y.backward(dy);
    const auto ref = kernels::rmsnorm_reference(x, C, rms->weight, dy, 1e-6);
    for (size_t i = 0; i < ref.y.size(); ++i) {
      // float32 vs double: a few ulps of O(1) values
      CHECK(y.data()[i] == Approx(ref.y[i]).margin(1e-5));
      CHECK(x.grad().data()[i] == Approx(ref.dx[i]).margin(1e-5));
    }
    for (int64_t j = 0; j < C; ++j)
      CHECK(rms->weight.grad().data()[j] == Approx(ref.dgamma[j]).epsilon(1e-4).margin(1e-5));
  }
}

TEST_CASE("RMSNorm gradcheck on 2-D and 3-D inputs, with and without weight",
          "[layers][rmsnorm][gradcheck]") {
  for (Shape shape : {Shape{4, 6}, Shape{2, 3, 5}}) {
    auto rms = make_rms(shape.back(), true, 4);
    Tensor x = rand_tensor(shape, 5);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1]); },
                      std::vector<Tensor>{x, rms->weight});
    auto plain = make_rms(shape.back(), false, 0);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return plain->forward(in[0]); },
                      std::vector<Tensor>{x});
  }
}

TEST_CASE("RMSNorm agrees with the same function composed from primitive ops", "[layers][rmsnorm]") {
  auto rms = make_rms(16, true, 6);
  Tensor x1 = rand_tensor({3, 5, 16}, 7, true, -3.0f, 2.0f);
  Tensor x2 = x1.clone().requires_grad_();
  Tensor w2 = rms->weight.clone().requires_grad_();
  Tensor dy = rand_tensor({3, 5, 16}, 8, false);
  Tensor fused = rms->forward(x1);
  Tensor composed = x2 / sqrt(mean(x2 * x2, -1, true) + 1e-6f) * w2;
  fused.backward(dy);
  composed.backward(dy);
  // both float32, different operation order
  CHECK(nl::test::max_abs_diff(fused, composed) < 1e-5);
  CHECK(nl::test::max_abs_diff(x1.grad(), x2.grad()) < 1e-4);
  CHECK(nl::test::max_abs_diff(rms->weight.grad(), w2.grad()) < 1e-4);
}

TEST_CASE("RMSNorm values by hand, a zero row stays finite, registry", "[layers][rmsnorm]") {
  auto rms = make_rms(4, false, 0);
  Tensor y = rms->forward(Tensor::from_vector({3, -4, 0, 0, 0, 0, 0, 0}, {2, 4}));
  // mean square of (3,-4,0,0) = 25/4 -> rms 2.5
  CHECK(y.at({0, 0}) == Approx(1.2).epsilon(1e-5));
  CHECK(y.at({0, 1}) == Approx(-1.6).epsilon(1e-5));
  CHECK(y.at({1, 2}) == 0.0f);
  Rng rng(0);
  auto m = make_layer(json{{"type", "rmsnorm"}, {"eps", 1e-5}}, LayerArgs{8, &rng});
  REQUIRE(dynamic_cast<RMSNorm*>(m.get()) != nullptr);
  CHECK(m->num_parameters() == 8);
  REQUIRE_THROWS_MENTIONING(rms->forward(Tensor::zeros({2, 5})), "RMSNorm", "(2, 5)");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "rmsnorm"}}, LayerArgs{}), "features");
}

TEST_CASE("Identity is the norm type 'none' and passes its input through", "[layers][registry]") {
  Rng rng(0);
  auto m = make_layer(json{{"type", "none"}}, LayerArgs{8, &rng});
  REQUIRE(dynamic_cast<Identity*>(m.get()) != nullptr);
  Tensor x = rand_tensor({2, 3, 8}, 1);
  CHECK(m->forward(x).same(x));
  CHECK(m->forward_masked(x, Tensor::ones({2, 3})).same(x));
  CHECK(m->num_parameters() == 0);
  for (const char* t : {"layernorm", "batchnorm", "rmsnorm", "none"})
    CHECK(layer_registry().contains(t));
}
