// GroupNorm (channel-last): reference values and gradients, gradchecks on 2-D and 3-D inputs
// with the per-channel affine, groups = 1 equals LayerNorm, registry and errors.
#include "helpers.h"
#include "layers/groupnorm.h"
#include "layers/kernels/layernorm.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
std::shared_ptr<GroupNorm> make_gn(int64_t C, int64_t groups, uint64_t seed) {
  GroupNormOptions o;
  o.features = C;
  o.groups = groups;
  auto gn = std::make_shared<GroupNorm>(o);
  Rng rng(seed);  // non-trivial per-channel affine: catches a wrong gamma index per group
  gn->weight.copy_(Tensor::uniform({C}, 0.5f, 1.5f, rng));
  gn->bias.copy_(Tensor::uniform({C}, -0.5f, 0.5f, rng));
  return gn;
}
}  // namespace

TEST_CASE("GroupNorm matches the naive double reference (values and gradients)",
          "[layers][groupnorm]") {
  for (Shape shape : {Shape{5, 12}, Shape{3, 4, 32}}) {
    const int64_t C = shape.back();
    auto gn = make_gn(C, 4, 1);
    Tensor x = rand_tensor(shape, 2, true, -2.0f, 3.0f);
    Tensor dy = rand_tensor(shape, 3, false);
    Tensor y = gn->forward(x);
    y.backward(dy);
    const auto ref = kernels::groupnorm_reference(x, 4, gn->weight, gn->bias, dy, 1e-5);
    // float32 kernels vs double: a few ulps of O(1) values
    for (size_t i = 0; i < ref.y.size(); ++i) {
      CHECK(y.data()[i] == Approx(ref.y[i]).margin(1e-5));
      CHECK(x.grad().data()[i] == Approx(ref.dx[i]).margin(1e-4));
    }
    for (int64_t c = 0; c < C; ++c) {
      CHECK(gn->weight.grad().data()[c] == Approx(ref.dgamma[c]).margin(1e-4));
      CHECK(gn->bias.grad().data()[c] == Approx(ref.dbeta[c]).margin(1e-4));
    }
  }
}

TEST_CASE("GroupNorm gradcheck on 2-D and 3-D inputs with affine (x, gamma, beta)",
          "[layers][groupnorm][gradcheck]") {
  for (Shape shape : {Shape{4, 6}, Shape{2, 3, 8}}) {
    auto gn = make_gn(shape.back(), 2, 4);
    Tensor x = rand_tensor(shape, 5);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
      return group_norm(in[0], 2, in[1], in[2]);
    }, std::vector<Tensor>{x, gn->weight, gn->bias});
  }
}

TEST_CASE("GroupNorm with one group equals LayerNorm over the channels", "[layers][groupnorm]") {
  auto gn = make_gn(10, 1, 6);
  Tensor x = rand_tensor({3, 2, 10}, 7);
  Tensor a = gn->forward(x);
  Tensor b = layer_norm(x, {10}, gn->weight, gn->bias);
  CHECK(nl::test::max_abs_diff(a, b) == 0.0);  // the same kernel on the same rows
}

TEST_CASE("GroupNorm from the registry and its errors", "[layers][groupnorm][registry]") {
  Rng rng(0);
  auto m = make_layer(json{{"type", "groupnorm"}, {"groups", 4}}, LayerArgs{16, &rng});
  auto* gn = dynamic_cast<GroupNorm*>(m.get());
  REQUIRE(gn != nullptr);
  CHECK(gn->options().groups == 4);
  CHECK(m->num_parameters() == 32);
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "groupnorm"}, {"groups", 3}}, LayerArgs{16, &rng}),
                            "groups", "16");
  REQUIRE_THROWS_MENTIONING(group_norm(Tensor::zeros({2, 6}), 4, Tensor(), Tensor()), "group_norm", "6");
}
