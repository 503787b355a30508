// LayerNorm: fused kernel vs naive double reference and vs the primitive-op composition,
// gradchecks (2-D, 3-D, multi-dim normalized_shape, with and without affine), semantics
// (batch size 1, pitfall 9's [1,0,0,0], large-mean rows, constant rows), determinism, errors.
#include <cstring>

#include "helpers.h"
#include "layers/kernels/layernorm.h"
#include "layers/layernorm.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

// Largest |a[i] - ref[i]| / (atol + |ref[i]|).
double worst_rel(const float* a, const std::vector<double>& ref, double atol) {
  double w = 0.0;
  for (size_t i = 0; i < ref.size(); ++i)
    w = std::max(w, std::abs(a[i] - ref[i]) / (atol + std::abs(ref[i])));
  return w;
}

std::shared_ptr<LayerNorm> make_ln(const Shape& shape, bool affine, uint64_t seed) {
  auto ln = std::make_shared<LayerNorm>(LayerNormOptions{shape, 1e-5, affine, ""});
  if (affine) {  // non-trivial gamma/beta so their index and their gradients matter
    Rng rng(seed);
    ln->weight.copy_(Tensor::uniform(shape, 0.5f, 1.5f, rng));
    ln->bias.copy_(Tensor::uniform(shape, -0.5f, 0.5f, rng));
  }
  return ln;
}

// The same function composed from primitive ops through autograd.
Tensor ln_composed(const Tensor& x, const Tensor& w, const Tensor& b, float eps) {
  Tensor mu = mean(x, -1, true);
  Tensor xc = x - mu;
  Tensor var = mean(xc * xc, -1, true);
  Tensor y = xc / sqrt(var + eps);
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

}  // namespace

TEST_CASE("LayerNorm fused kernel matches the naive double reference (values and gradients)",
          "[layers][layernorm]") {
  // Row lengths with and without a tail after the 16-wide vectors, row counts across several
  // 16-row statistics blocks and odd (the backward pairs rows), a long row, and 700 rows of 96
  // (269 KB: the forward takes them in three blocks, last block first, that one short).
  for (Shape shape : {Shape{5, 7}, Shape{3, 4, 64}, Shape{2, 3, 100}, Shape{37, 33}, Shape{3, 4099},
                      Shape{700, 96}}) {
    const int64_t C = shape.back();
    auto ln = make_ln({C}, true, 3);
    Tensor x = rand_tensor(shape, 1, true, -2.0f, 3.0f);
    Tensor dy = rand_tensor(shape, 2, false);
    Tensor y = ln->forward(x);
    y.backward(dy);
    const auto ref = kernels::layernorm_reference(x, C, ln->weight, ln->bias, dy, 1e-5);
    // float32 kernels vs double: a few ulps of O(1) values
    CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-4);
    CHECK(worst_rel(x.grad().data(), ref.dx, 1e-3) < 1e-4);
    CHECK(worst_rel(ln->weight.grad().data(), ref.dgamma, 1e-3) < 1e-4);
    CHECK(worst_rel(ln->bias.grad().data(), ref.dbeta, 1e-3) < 1e-4);
  }
}

TEST_CASE("LayerNorm gradcheck on 2-D and 3-D inputs with affine (x, gamma, beta)",
          "[layers][layernorm][gradcheck]") {
  for (Shape shape : {Shape{4, 6}, Shape{2, 3, 5}, Shape{1, 1, 8}}) {
    auto ln = make_ln({shape.back()}, true, 7);
    Tensor x = rand_tensor(shape, 11);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
      return layer_norm(in[0], {shape.back()}, in[1], in[2]);
    }, std::vector<Tensor>{x, ln->weight, ln->bias});
  }
}

TEST_CASE("LayerNorm gradcheck without affine", "[layers][layernorm][gradcheck]") {
  for (Shape shape : {Shape{3, 5}, Shape{2, 4, 6}}) {
    auto ln = make_ln({shape.back()}, false, 0);
    REQUIRE(ln->parameters().empty());
    Tensor x = rand_tensor(shape, 13);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return ln->forward(in[0]); },
                      std::vector<Tensor>{x});
  }
}

TEST_CASE("LayerNorm over a multi-dim normalized_shape", "[layers][layernorm][gradcheck]") {
  auto ln = make_ln({3, 4}, true, 5);
  Tensor x = rand_tensor({2, 2, 3, 4}, 17);
  Tensor y = ln->forward(x);
  // Each (3,4) block is normalised as one row of 12.
  const auto ref = kernels::layernorm_reference(x, 12, ln->weight, ln->bias, Tensor(), 1e-5);
  CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-4);  // float vs double rounding
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) {
    return layer_norm(in[0], {3, 4}, in[1], in[2]);
  }, std::vector<Tensor>{x, ln->weight, ln->bias});
}

TEST_CASE("LayerNorm agrees with the same function composed from primitive ops",
          "[layers][layernorm]") {
  for (bool affine : {true, false}) {
    auto ln = make_ln({16}, affine, 9);
    Tensor x1 = rand_tensor({3, 5, 16}, 19, true, -3.0f, 2.0f);
    Tensor x2 = x1.clone().requires_grad_();
    Tensor dy = rand_tensor({3, 5, 16}, 20, false);
    Tensor w2, b2;
    if (affine) {
      w2 = ln->weight.clone().requires_grad_();
      b2 = ln->bias.clone().requires_grad_();
    }
    Tensor fused = ln->forward(x1);
    Tensor composed = ln_composed(x2, w2, b2, 1e-5f);
    fused.backward(dy);
    composed.backward(dy);
    // both float32, different operation order: agreement to a few ulps of O(1) values
    CHECK(nl::test::max_abs_diff(fused, composed) < 1e-5);
    CHECK(nl::test::max_abs_diff(x1.grad(), x2.grad()) < 1e-4);
    if (affine) {
      CHECK(nl::test::max_abs_diff(ln->weight.grad(), w2.grad()) < 1e-4);
      CHECK(nl::test::max_abs_diff(ln->bias.grad(), b2.grad()) < 1e-4);
    }
  }
}

TEST_CASE("LayerNorm of x = 1 0 0 0 is 1.732 -0.577 -0.577 -0.577 (biased var, eps in sqrt)",
          "[layers][layernorm]") {
  // Pitfall 9: unbiased std with eps added to the std would give [1.5,-0.5,-0.5,-0.5].
  LayerNorm ln(LayerNormOptions{{4}, 1e-5, true, ""});
  Tensor y = ln.forward(Tensor::from_vector({1, 0, 0, 0}, {1, 4}));
  const double var = 3.0 / 16.0;  // mean 1/4, biased variance
  const double rs = 1.0 / std::sqrt(var + 1e-5);
  CHECK(y.at({0, 0}) == Approx(0.75 * rs).epsilon(1e-6));
  CHECK(y.at({0, 1}) == Approx(-0.25 * rs).epsilon(1e-6));
  CHECK(y.at({0, 0}) == Approx(1.732).epsilon(1e-3));
  CHECK(y.at({0, 3}) == Approx(-0.577).epsilon(1e-3));
}

TEST_CASE("LayerNorm works at batch size 1 and on an unbatched vector", "[layers][layernorm]") {
  auto ln = make_ln({6}, true, 21);
  Tensor x = rand_tensor({1, 6}, 22);
  Tensor y = ln->forward(x);
  const auto ref = kernels::layernorm_reference(x, 6, ln->weight, ln->bias, Tensor(), 1e-5);
  CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-4);
  Tensor v = rand_tensor({6}, 23);
  Tensor yv = ln->forward(v);
  REQUIRE(yv.shape() == Shape{6});
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return ln->forward(in[0]); },
                    std::vector<Tensor>{x});
}

TEST_CASE("LayerNorm rows of mean 1e4 and std 1e-2 match a double reference to 1e-3",
          "[layers][layernorm][numerics]") {
  // Pitfall 6: E[x^2]-E[x]^2 in float returns garbage (even negative variances) here.
  const int64_t R = 8, C = 256;
  Rng rng(31);
  Tensor x = Tensor::normal({R, C}, 1e4f, 1e-2f, rng);
  Tensor mean = Tensor::empty({R}), lo = Tensor::empty({R}), rstd = Tensor::empty({R});
  Tensor y = Tensor::empty({R, C});
  kernels::layernorm_forward(x.data(), nullptr, nullptr, R, C, 1, 1e-5f, y.data(), mean.data(),
                             lo.data(), rstd.data());
  Tensor dy = rand_tensor({R, C}, 32, false);
  const auto ref = kernels::layernorm_reference(x, C, Tensor(), Tensor(), dy, 1e-5);
  for (int64_t r = 0; r < R; ++r) {
    const double m = static_cast<double>(mean.data()[r]) + lo.data()[r];
    CHECK(std::abs(m - ref.mean[r]) < 1e-3 * 1e-2);  // 1e-3 of a standard deviation
    const double var = 1.0 / (static_cast<double>(rstd.data()[r]) * rstd.data()[r]) - 1e-5;
    CHECK(std::abs(var - ref.var[r]) <= 1e-3 * ref.var[r]);
  }
  // Outputs are O(1): 1e-3 relative to the reference with a 1e-3 floor for values near 0.
  CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-3);
  Tensor dx = Tensor::empty({R, C});
  kernels::NormGrads g;
  g.dx = dx.data();
  kernels::layernorm_backward(dy.data(), x.data(), nullptr, mean.data(), lo.data(), rstd.data(),
                              R, C, 1, g);
  // dx scales with rstd (~1e2 here): relative to that scale
  CHECK(worst_rel(dx.data(), ref.dx, 1e-1) < 1e-3);
}

TEST_CASE("LayerNorm rows whose float sums overflow (|x| ~ 1e37) match a double reference",
          "[layers][layernorm][numerics]") {
  // The kernel sums in float; a row whose sum or square sum leaves the float range takes the
  // double path. Row 0 overflows the sum, row 1 only the square sum, row 2 neither.
  const int64_t R = 3, C = 48;
  Tensor x = Tensor::empty({R, C});
  Rng rng(77);
  for (int64_t j = 0; j < C; ++j) {
    const float u = rng.uniform(-1.0f, 1.0f);
    x.data()[j] = 3e37f + 1e36f * u;
    x.data()[C + j] = (j % 2 ? 1e20f : -1e20f) * (1.0f + 0.1f * u);
    x.data()[2 * C + j] = u;
  }
  Tensor mean = Tensor::empty({R}), lo = Tensor::empty({R}), rstd = Tensor::empty({R});
  Tensor y = Tensor::empty({R, C});
  kernels::layernorm_forward(x.data(), nullptr, nullptr, R, C, 1, 1e-5f, y.data(), mean.data(),
                             lo.data(), rstd.data());
  const auto ref = kernels::layernorm_reference(x, C, Tensor(), Tensor(), Tensor(), 1e-5);
  for (int64_t r = 0; r < R; ++r) {
    const double m = static_cast<double>(mean.data()[r]) + lo.data()[r];
    CHECK(std::abs(m - ref.mean[r]) <= 1e-6 * std::sqrt(ref.var[r]) + 1e-30);
  }
  for (int64_t i = 0; i < R * C; ++i) REQUIRE(std::isfinite(y.data()[i]));
  CHECK(worst_rel(y.data(), ref.y, 1e-3) < 1e-4);
}

TEST_CASE("LayerNorm of a constant row is beta, with finite gradients (no NaN)",
          "[layers][layernorm][numerics]") {
  auto ln = make_ln({8}, true, 41);
  Tensor x = Tensor::full({3, 8}, 2.5f).requires_grad_();
  x.set({1, 3}, 7.0f);  // one ordinary row between two constant ones
  Tensor y = ln->forward(x);
  sum(y * rand_tensor({3, 8}, 42, false)).backward();
  for (int64_t j = 0; j < 8; ++j) {
    CHECK(y.at({0, j}) == Approx(ln->bias.at({j})).margin(1e-6));
    CHECK(std::isfinite(x.grad().at({0, j})));
    CHECK(std::isfinite(ln->weight.grad().at({j})));
  }
}

TEST_CASE("LayerNorm dgamma/dbeta are bit-identical across runs", "[layers][layernorm][determinism]") {
  nl::ThreadCountGuard restore_threads;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    auto ln = make_ln({64}, true, 51);
    Tensor x = rand_tensor({4096, 64}, 52);
    Tensor dy = rand_tensor({4096, 64}, 53, false);
    std::vector<float> first_g, first_b, first_x;
    for (int run = 0; run < 2; ++run) {
      ln->zero_grad();
      x.zero_grad();
      ln->forward(x).backward(dy);
      if (run == 0) {
        first_g = ln->weight.grad().to_vector();
        first_b = ln->bias.grad().to_vector();
        first_x = x.grad().to_vector();
      } else {
        CHECK(std::memcmp(first_g.data(), ln->weight.grad().data(), 64 * sizeof(float)) == 0);
        CHECK(std::memcmp(first_b.data(), ln->bias.grad().data(), 64 * sizeof(float)) == 0);
        CHECK(first_x == x.grad().to_vector());
      }
    }
  }
}

TEST_CASE("LayerNorm backward adds into existing gradients", "[layers][layernorm]") {
  auto ln = make_ln({5}, true, 61);
  Tensor x = rand_tensor({2, 3, 5}, 62);
  Tensor dy = rand_tensor({2, 3, 5}, 63, false);
  ln->forward(x).backward(dy);
  const std::vector<float> gx = x.grad().to_vector(), gw = ln->weight.grad().to_vector();
  ln->forward(x).backward(dy);
  for (size_t i = 0; i < gx.size(); ++i) CHECK(x.grad().data()[i] == Approx(2 * gx[i]).margin(1e-6));
  for (size_t i = 0; i < gw.size(); ++i)
    CHECK(ln->weight.grad().data()[i] == Approx(2 * gw[i]).margin(1e-6));
  // x used twice in one graph: contributions add up
  Tensor x2 = rand_tensor({4, 5}, 64);
  Tensor y = ln->forward(x2) + ln->forward(x2);
  y.backward(Tensor::ones({4, 5}));
  CHECK(std::isfinite(x2.grad().at({0, 0})));
}

TEST_CASE("LayerNorm errors name the op and the shapes", "[layers][layernorm][errors]") {
  LayerNorm ln(LayerNormOptions{{4}, 1e-5, true, ""});
  REQUIRE_THROWS_MENTIONING(ln.forward(Tensor::zeros({2, 5})), "layer_norm", "(2, 5)", "(4,)");
  REQUIRE_THROWS_AS(LayerNorm(LayerNormOptions{{}, 1e-5, true, ""}), ValueError);
  REQUIRE_THROWS_MENTIONING(layer_norm(Tensor::zeros({2, 4}), {4}, Tensor::ones({3}), Tensor()),
                            "weight", "(3,)");
}

TEST_CASE("LayerNorm from the registry: keys, defaults and errors", "[layers][layernorm][registry]") {
  Rng rng(0);
  auto m = make_layer(json{{"type", "layernorm"}, {"eps", 1e-6}}, LayerArgs{8, &rng});
  auto* ln = dynamic_cast<LayerNorm*>(m.get());
  REQUIRE(ln != nullptr);
  CHECK(ln->options().normalized_shape == Shape{8});
  CHECK(ln->options().eps == Approx(1e-6));
  CHECK(ln->num_parameters() == 16);
  auto plain = make_layer(json{{"type", "layernorm"}, {"affine", false}, {"features", 5}}, LayerArgs{});
  CHECK(plain->num_parameters() == 0);
  CHECK(plain->print() == "LayerNorm(normalized_shape=(5,), eps=0.000010, elementwise_affine=false)");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "layernorm"}}, LayerArgs{}), "features");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "layernorm"}, {"epz", 1}}, LayerArgs{4, &rng}),
                            "epz", "eps");
  REQUIRE_THROWS_AS(make_layer(json{{"type", "layernorm"}, {"eps", -1}}, LayerArgs{4, &rng}),
                    ConfigError);
}

TEST_CASE("LayerNorm from a config: an input not ending in normalized_shape is a ConfigError naming the key",
          "[layers][layernorm][registry][errors]") {
  Rng rng(0);
  auto m = make_layer(json{{"type", "layernorm"}, {"normalized_shape", {5, 3}}}, LayerArgs{3, &rng},
                      "model.norm");
  CHECK(m->forward(Tensor::ones({2, 5, 3})).shape() == Shape{2, 5, 3});
  // Over [T, C]: a batch of another length (padded to its own longest sequence).
  REQUIRE_THROWS_AS(m->forward(Tensor::ones({2, 4, 3})), ConfigError);
  REQUIRE_THROWS_MENTIONING(m->forward(Tensor::ones({2, 4, 3})), "model.norm.normalized_shape",
                            "(2, 4, 3)", "data.loader.length_mode");
  auto c = make_layer(json{{"type", "layernorm"}}, LayerArgs{3, &rng}, "model.norm");
  REQUIRE_THROWS_MENTIONING(c->forward(Tensor::ones({2, 4})), "model.norm.normalized_shape");
}

TEST_CASE("the norm kernels' lane sums halve down to 8 lanes, then add those in order", "[layers][layernorm][precision]") {
  // 16 lanes, 1e8 and 1 in lanes 0 and 1, -1e8 and 1 in lanes 8 and 9: the halving adds lane 0
  // to lane 8 and lane 1 to lane 9 first, (1e8 - 1e8) + (1 + 1) = 2 exactly; left to right the
  // first 1 is lost in 1e8 + 1 and the sum is 1.
  float sixteen[16] = {};
  sixteen[0] = 1e8f;
  sixteen[1] = 1.0f;
  sixteen[8] = -1e8f;
  sixteen[9] = 1.0f;
  REQUIRE(kernels::sum_lanes(sixteen) == 2.0f);
  // Fewer than 8 lanes: plain left to right.
  float four[4] = {1e8f, 1.0f, -1e8f, 1.0f};
  REQUIRE(kernels::sum_lanes(four) == 1.0f);
  // 64 lanes holding 0..63: every partial sum is an exact integer in float.
  float lanes[kernels::kFloatLanes];
  for (int k = 0; k < kernels::kFloatLanes; ++k) lanes[k] = static_cast<float>(k);
  REQUIRE(kernels::sum_lanes(lanes) == 63.0f * 64.0f / 2.0f);
  double dl[kernels::kDoubleLanes];
  for (int k = 0; k < kernels::kDoubleLanes; ++k) dl[k] = 0.5 * k;
  REQUIRE(kernels::sum_lanes(dl) == 0.5 * 31.0 * 32.0 / 2.0);
}
