// Elman RNN: values by hand, gradients for every cell norm (masked and unmasked), padding
// semantics, last valid state, per-step BatchNorm beyond the training length, pitfall 11.
#include <cmath>

#include "helpers.h"
#include "layers/batchnorm.h"
#include "layers/rnn.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

RNN make(int64_t F, int64_t H, const std::string& norm, uint64_t seed = 7, int64_t steps = 0,
         double momentum = 0.1) {
  RNNOptions o;
  o.input_size = F;
  o.hidden_size = H;
  o.norm = norm;
  o.norm_steps = steps;
  o.norm_momentum = momentum;
  Rng rng(seed);
  return RNN(o, rng);
}

// x, then every parameter of the module (so gradcheck covers them all).
std::vector<Tensor> inputs_with_params(const Tensor& x, const Module& m) {
  std::vector<Tensor> in{x};
  for (const Tensor& p : m.parameters()) in.push_back(p);
  return in;
}

Tensor mask_of(const std::vector<std::vector<float>>& rows) {
  std::vector<float> flat;
  for (auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return Tensor::from_vector(
      flat, {static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size())});
}

// Row b, step t of a (B,T,H) tensor as a vector.
std::vector<float> state_at(const Tensor& s, int64_t b, int64_t t) {
  std::vector<float> v;
  for (int64_t j = 0; j < s.size(2); ++j) v.push_back(s.at({b, t, j}));
  return v;
}

// Gradcheck of the states and the last state w.r.t. the input and all parameters.
void check_rnn_grads(RNN& rnn, const Tensor& x, const Tensor& mask) {
  GradcheckOptions opt;
  // BatchNorm over 3-6 rows is strongly curved (rstd moves with every input): a smaller
  // finite-difference step keeps the truncation error inside the tolerance.
  if (rnn.options().norm.rfind("batchnorm", 0) == 0) opt.eps = 3e-3f;
  REQUIRE_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        RNNOutput out = rnn.run(in[0], mask);
        // states and last together, so a wrong `last` is caught too
        return add(out.states, reshape(out.last, {out.last.size(0), 1, out.last.size(1)}));
      },
      inputs_with_params(x, rnn), opt);
}

}  // namespace

TEST_CASE("RNN matches a hand-computed 2-step example", "[layers][rnn]") {
  RNN rnn = make(1, 2, "none");
  rnn.weight_ih.copy_(Tensor::from_vector({1.0f, -2.0f}, {2, 1}));
  rnn.weight_hh.copy_(Tensor::from_vector({0.5f, -1.0f, 0.25f, 2.0f}, {2, 2}));
  rnn.bias_ih.copy_(Tensor::from_vector({0.1f, 0.0f}, {2}));
  rnn.bias_hh.copy_(Tensor::from_vector({0.0f, -0.3f}, {2}));
  RNNOutput out = rnn.run(Tensor::from_vector({0.5f, -1.0f}, {1, 2, 1}));
  // h1 = tanh(W x1 + b) with x1 = 0.5: pre = (0.5 + 0.1, -1.0 - 0.3)
  const double h1a = std::tanh(0.6), h1b = std::tanh(-1.3);
  // h2 = tanh(W x2 + b + U h1) with x2 = -1
  const double h2a = std::tanh(-1.0 + 0.1 + 0.5 * h1a - 1.0 * h1b);
  const double h2b = std::tanh(2.0 - 0.3 + 0.25 * h1a + 2.0 * h1b);
  REQUIRE(out.states.shape() == Shape{1, 2, 2});
  // margin 1e-6: float rounding of pre-activations of size ~2 (h2b's cancels to 0.11)
  CHECK(out.states.at({0, 0, 0}) == Approx(h1a).margin(1e-6));
  CHECK(out.states.at({0, 0, 1}) == Approx(h1b).margin(1e-6));
  CHECK(out.states.at({0, 1, 0}) == Approx(h2a).margin(1e-6));
  CHECK(out.states.at({0, 1, 1}) == Approx(h2b).margin(1e-6));
  CHECK(out.last.at({0, 0}) == Approx(h2a).margin(1e-6));
  CHECK(out.last.at({0, 1}) == Approx(h2b).margin(1e-6));
}

TEST_CASE("RNN cell ops gradients", "[layers][rnn][gradcheck]") {
  REQUIRE_GRADCHECK(
      [](const std::vector<Tensor>& in) { return rnn_cell_preact(in[0], 1, in[1], in[2]); },
      {rand_tensor({3, 4, 5}, 1), rand_tensor({3, 5}, 2), rand_tensor({5, 5}, 3)});
  REQUIRE_GRADCHECK(
      [](const std::vector<Tensor>& in) { return rnn_cell_preact(in[0], 0, Tensor(), in[1]); },
      {rand_tensor({2, 3, 4}, 4), rand_tensor({4, 4}, 5)});
  const Tensor m = Tensor::from_vector({1, 0, 1}, {3});
  for (bool relu : {false, true}) {
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return rnn_cell_update(in[0], in[1], m, relu); },
        {rand_tensor({3, 4}, 6, true, -2.0f, 2.0f), rand_tensor({3, 4}, 7)});
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) {
          return rnn_cell_update(in[0], Tensor(), Tensor(), relu);
        },
        {rand_tensor({3, 4}, 8, true, -2.0f, 2.0f)});
  }
}

TEST_CASE("RNN none gradients, full and masked variable-length input", "[layers][rnn][gradcheck]") {
  RNN rnn = make(3, 4, "none");
  check_rnn_grads(rnn, rand_tensor({2, 3, 3}, 11), Tensor());
  check_rnn_grads(rnn, rand_tensor({3, 4, 3}, 12),
                  mask_of({{1, 1, 1, 1}, {1, 1, 0, 0}, {0, 1, 1, 0}}));
  RNNOptions o = rnn.options();
  o.nonlinearity = "relu";
  Rng rng(3);
  RNN relu(o, rng);
  check_rnn_grads(relu, rand_tensor({3, 4, 3}, 13),
                  mask_of({{1, 1, 1, 1}, {1, 1, 0, 0}, {1, 0, 0, 0}}));
}

TEST_CASE("RNN layernorm gradients, full and masked variable-length input",
          "[layers][rnn][gradcheck]") {
  RNN rnn = make(3, 4, "layernorm");
  check_rnn_grads(rnn, rand_tensor({2, 3, 3}, 21), Tensor());
  check_rnn_grads(rnn, rand_tensor({3, 4, 3}, 22),
                  mask_of({{1, 1, 1, 1}, {1, 1, 0, 0}, {0, 1, 1, 0}}));
}

TEST_CASE("RNN batchnorm gradients, full and masked variable-length input",
          "[layers][rnn][gradcheck]") {
  RNN rnn = make(3, 4, "batchnorm");
  check_rnn_grads(rnn, rand_tensor({6, 3, 3}, 31), Tensor());
  // >= 3 valid rows at every step that has any (BN statistics over the valid rows only)
  check_rnn_grads(rnn, rand_tensor({4, 4, 3}, 32),
                  mask_of({{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 0}, {1, 0, 1, 0}}));
}

TEST_CASE("RNN batchnorm_step gradients, full and masked variable-length input",
          "[layers][rnn][gradcheck]") {
  RNN rnn = make(3, 4, "batchnorm_step", 7, 3);
  check_rnn_grads(rnn, rand_tensor({6, 3, 3}, 41), Tensor());
  // T = 4 > steps = 3: the last step shares step 2's module statistics
  check_rnn_grads(rnn, rand_tensor({4, 4, 3}, 42),
                  mask_of({{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 0}, {1, 0, 1, 0}}));
}

TEST_CASE("RNN batchnorm with fewer than 2 valid rows at a step falls back to running statistics",
          "[layers][rnn][gradcheck]") {
  for (const char* kind : {"batchnorm", "batchnorm_step"}) {
    INFO(kind);
    // momentum 0: the running statistics stay fixed, so repeated calls (gradcheck) agree
    RNN rnn = make(3, 4, kind, 5, std::string(kind) == "batchnorm_step" ? 4 : 0, 0.0);
    const Tensor x = rand_tensor({3, 4, 3}, 51);
    const Tensor mask = mask_of({{1, 1, 1, 1}, {1, 0, 0, 0}, {1, 0, 0, 0}});  // steps 1..3: one row
    RNNOutput out = rnn.run(x, mask);
    // Step 1 by hand: BN in eval mode (running statistics) on the pre-activation.
    auto* bn = dynamic_cast<BatchNorm*>(rnn.children().at(0).second.get());
    REQUIRE(bn != nullptr);
    {
      NoGradGuard ng;
      Tensor x1 = x.slice(1, 1, 2).reshape({3, 3});
      Tensor h0 = out.states.slice(1, 0, 1).reshape({3, 4});
      Tensor a = add(add(matmul(x1, rnn.weight_ih, false, true), add(rnn.bias_ih, rnn.bias_hh)),
                     matmul(h0, rnn.weight_hh, false, true));
      bn->eval();
      Tensor n = bn->forward_step(a, 1, Tensor());
      bn->train();
      for (int64_t j = 0; j < 4; ++j)
        CHECK(out.states.at({0, 1, j}) == Approx(std::tanh(n.at({0, j}))).margin(1e-6));
      for (int64_t t = 1; t < 4; ++t)  // the padded rows keep their state
        CHECK(state_at(out.states, 1, t) == state_at(out.states, 1, 0));
    }
    check_rnn_grads(rnn, x, mask);
  }
}

TEST_CASE("RNN padded steps keep the state; valid outputs equal each sequence run alone",
          "[layers][rnn]") {
  for (const char* kind : {"none", "layernorm"}) {
    INFO(kind);
    RNN rnn = make(3, 5, kind);
    const int64_t T = 5;
    const std::vector<int64_t> lengths{5, 3, 1};
    Tensor x = rand_tensor({3, T, 3}, 61, false);
    // Garbage in the padding must not matter.
    for (int64_t b = 0; b < 3; ++b)
      for (int64_t t = lengths[b]; t < T; ++t)
        for (int64_t f = 0; f < 3; ++f) x.set({b, t, f}, 100.0f + t);
    RNNOutput out = rnn.run_lengths(x, Tensor::from_vector({5, 3, 1}, {3}));
    for (int64_t b = 0; b < 3; ++b) {
      RNNOutput alone = rnn.run(x.slice(0, b, b + 1).slice(1, 0, lengths[b]));
      for (int64_t t = 0; t < lengths[b]; ++t)
        for (int64_t j = 0; j < 5; ++j)
          CHECK(out.states.at({b, t, j}) == Approx(alone.states.at({0, t, j})).margin(1e-6));
      for (int64_t t = lengths[b]; t < T; ++t)
        CHECK(state_at(out.states, b, t) == state_at(out.states, b, lengths[b] - 1));
      for (int64_t j = 0; j < 5; ++j)  // the last valid state
        CHECK(out.last.at({b, j}) == out.states.at({b, lengths[b] - 1, j}));
    }
    // A hole in the middle (left-padding style masks work the same way).
    Tensor mask = mask_of({{0, 1, 0, 1, 1}, {1, 1, 1, 1, 1}, {1, 0, 0, 0, 0}});
    RNNOutput holes = rnn.run(x, mask);
    CHECK(state_at(holes.states, 0, 0) == std::vector<float>(5, 0.0f));  // h0 = 0 carried
    CHECK(state_at(holes.states, 0, 2) == state_at(holes.states, 0, 1));
    CHECK(state_at(holes.states, 0, 1) != state_at(holes.states, 0, 0));
  }
}

TEST_CASE("RNN layernorm works at batch size 1", "[layers][rnn]") {
  RNN rnn = make(2, 6, "layernorm");
  RNNOutput out = rnn.run(rand_tensor({1, 4, 2}, 71, false));
  REQUIRE(out.last.shape() == Shape{1, 6});
  for (float v : out.states.to_vector()) REQUIRE(std::isfinite(v));
  // Single-case re-scaling invariance (LN paper, Table 1): without biases and from h0 = 0,
  // LN(W (c x)) = LN(W x) for c > 0, so the first state ignores the input's scale.
  RNNOptions o = rnn.options();
  o.bias = false;
  Rng rng(4);
  RNN nobias(o, rng);
  Tensor x = rand_tensor({1, 1, 2}, 72, false);
  Tensor y1 = nobias.run(x).last, y2 = nobias.run(mul_scalar(x, 50.0f)).last;
  REQUIRE(nl::test::max_abs_diff(y1, y2) < 1e-3);  // eps = 1e-5 in the sqrt breaks it slightly
}

TEST_CASE("RNN batchnorm_step in eval beyond the training length uses the last step's statistics",
          "[layers][rnn]") {
  RNN rnn = make(3, 4, "batchnorm_step", 9, 3);
  for (int i = 0; i < 5; ++i) rnn.run(rand_tensor({8, 3, 3}, 80 + i, false, 0.0f, 2.0f));
  rnn.eval();
  auto* bn = dynamic_cast<BatchNorm*>(rnn.children().at(0).second.get());
  REQUIRE(bn != nullptr);
  const Tensor x = rand_tensor({2, 6, 3}, 90, false);
  RNNOutput out = rnn.run(x);
  NoGradGuard ng;
  for (int64_t t = 3; t < 6; ++t) {
    Tensor xt = x.slice(1, t, t + 1).reshape({2, 3});
    Tensor hp = out.states.slice(1, t - 1, t).reshape({2, 4});
    Tensor a = add(add(matmul(xt, rnn.weight_ih, false, true), add(rnn.bias_ih, rnn.bias_hh)),
                   matmul(hp, rnn.weight_hh, false, true));
    Tensor with_last = bn->forward_step(a, 2, Tensor());
    Tensor with_first = bn->forward_step(a, 0, Tensor());
    REQUIRE(nl::test::max_abs_diff(with_last, with_first) > 1e-3);  // the test can fail
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t j = 0; j < 4; ++j)
        CHECK(out.states.at({b, t, j}) == Approx(std::tanh(with_last.at({b, j}))).margin(1e-6));
  }
}

TEST_CASE("RNN from the registry, config errors and shape errors", "[layers][rnn]") {
  Rng rng(1);
  ModulePtr m =
      make_layer(json{{"type", "rnn"},
                      {"hidden_size", 8},
                      {"norm", {{"type", "batchnorm_step"}, {"steps", 10}, {"weight_init", 0.1}}}},
                 LayerArgs{3, &rng}, "model.rnn");
  auto* rnn = dynamic_cast<RNN*>(m.get());
  REQUIRE(rnn != nullptr);
  bool found_gamma = false;
  for (auto& [name, t] : m->named_parameters())
    if (name == "norm.weight") {
      found_gamma = true;
      for (float v : t.to_vector()) REQUIRE(v == Approx(0.1f));  // pitfall 12: γ init exposed
    }
  REQUIRE(found_gamma);
  REQUIRE(rnn->run(Tensor::zeros({4, 12, 3})).states.shape() == Shape{4, 12, 8});
  // PyTorch init bound 1/sqrt(H)
  for (float v : rnn->weight_hh.to_vector()) REQUIRE(std::abs(v) <= 1.0f / std::sqrt(8.0f));

  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "rnn"}, {"norm", {{"type", "batchnorm_step"}}}}, LayerArgs{3, &rng},
                 "model.rnn"),
      "model.rnn.norm.steps");
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "rnn"}, {"hiden_size", 3}}, LayerArgs{3, &rng}, "m"), "hiden_size",
      "hidden_size");
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "rnn"}, {"norm", {{"type", "groupnorm"}}}}, LayerArgs{3, &rng}, "m"),
      "m.norm.type");
  REQUIRE_THROWS_MENTIONING(rnn->run(Tensor::zeros({4, 12, 5})), "RNN", "(4, 12, 5)");
  REQUIRE_THROWS_MENTIONING(rnn->run(Tensor::zeros({4, 12, 3}), Tensor::ones({4, 11})), "mask",
                            "(4, 11)");
  REQUIRE_THROWS_MENTIONING(mask_from_lengths(Tensor::from_vector({3, 13}, {2}), 12), "13");
  REQUIRE_THROWS_AS(mask_from_lengths(Tensor::from_vector({1.5f}, {1}), 4), ValueError);
}

TEST_CASE("RNN unmasked batchnorm: every row of every step enters the statistics",
          "[layers][rnn][unmasked]") {
  // batchnorm_step with momentum 1: after one training run, running_mean of step t is the
  // batch mean of a_t over ALL rows, padded ones included, and running_var their unbiased
  // variance. a_t is recomputed from the returned states (a padded row's state is carried).
  const int64_t B = 4, T = 4, F = 3, H = 5;
  RNNOptions o;
  o.input_size = F;
  o.hidden_size = H;
  o.norm = "batchnorm_step";
  o.norm_steps = T;
  o.norm_momentum = 1.0;
  o.norm_masked = false;
  Rng rng(9);
  RNN rnn(o, rng);
  Tensor x = rand_tensor({B, T, F}, 61, false);
  // Step 3 is all padding: unmasked BN still takes statistics there.
  const Tensor mask = mask_of({{1, 1, 1, 0}, {1, 1, 0, 0}, {1, 0, 0, 0}, {1, 1, 1, 0}});
  RNNOutput out = rnn.run(x, mask);
  auto* bn = dynamic_cast<BatchNorm*>(rnn.children().at(0).second.get());
  REQUIRE(bn != nullptr);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<double> sum(H, 0.0), sq(H, 0.0);
    std::vector<std::vector<double>> a(B, std::vector<double>(H));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t j = 0; j < H; ++j) {
        double v = rnn.bias_ih.at({j}) + rnn.bias_hh.at({j});
        for (int64_t f = 0; f < F; ++f) v += rnn.weight_ih.at({j, f}) * x.at({b, t, f});
        if (t > 0)
          for (int64_t k = 0; k < H; ++k) v += rnn.weight_hh.at({j, k}) * out.states.at({b, t - 1, k});
        a[b][j] = v;
        sum[j] += v;
      }
    for (int64_t j = 0; j < H; ++j) {
      const double mean = sum[j] / B;
      double ss = 0.0;
      for (int64_t b = 0; b < B; ++b) ss += (a[b][j] - mean) * (a[b][j] - mean);
      INFO("step " << t << " unit " << j);
      CHECK(bn->running_mean.at({t, j}) == Approx(mean).margin(1e-5));
      CHECK(bn->running_var.at({t, j}) == Approx(ss / (B - 1)).margin(1e-5));
    }
  }
  // Padded rows still keep their state.
  CHECK(state_at(out.states, 2, 3) == state_at(out.states, 2, 0));
  CHECK(bn->fallback_count() == 0);
}

TEST_CASE("RNN unmasked batchnorm: padding changes valid outputs, masked does not",
          "[layers][rnn][unmasked]") {
  const Tensor mask = mask_of({{1, 1, 1, 1}, {1, 1, 0, 0}, {1, 1, 1, 0}});
  Tensor x1 = rand_tensor({3, 4, 3}, 71, false), x2 = x1.clone();
  x2.set({1, 2, 0}, 9.0f);  // a padded position
  x2.set({1, 3, 1}, -4.0f);
  for (bool masked : {true, false})
    for (const char* kind : {"batchnorm", "batchnorm_step"}) {
      INFO(kind << (masked ? " masked" : " unmasked"));
      RNNOptions o;
      o.input_size = 3;
      o.hidden_size = 4;
      o.norm = kind;
      o.norm_steps = std::string(kind) == "batchnorm_step" ? 4 : 0;
      o.norm_masked = masked;
      Rng r1(3), r2(3);
      RNN a(o, r1), b(o, r2);
      const float d = static_cast<float>(
          nl::test::max_abs_diff(a.run(x1, mask).states.slice(0, 0, 1), b.run(x2, mask).states.slice(0, 0, 1)));
      if (masked)
        CHECK(d == 0.0f);
      else
        CHECK(d > 1e-3f);
    }
  // Without padding, masked and unmasked are bit-identical.
  RNNOptions o;
  o.input_size = 3;
  o.hidden_size = 4;
  o.norm = "batchnorm";
  Rng r1(4), r2(4);
  RNN m(o, r1);
  o.norm_masked = false;
  RNN u(o, r2);
  CHECK(m.run(x1).states.to_vector() == u.run(x1).states.to_vector());
}

TEST_CASE("RNN unmasked batchnorm gradients with padding", "[layers][rnn][unmasked][gradcheck]") {
  for (const char* kind : {"batchnorm", "batchnorm_step"}) {
    INFO(kind);
    RNNOptions o;
    o.input_size = 3;
    o.hidden_size = 4;
    o.norm = kind;
    o.norm_steps = std::string(kind) == "batchnorm_step" ? 4 : 0;
    o.norm_masked = false;
    Rng rng(8);
    RNN rnn(o, rng);
    // Padded rows feed the statistics, so gradients reach the padded inputs too; the last step
    // has a single valid row (masked BN would fall back there, unmasked does not).
    check_rnn_grads(rnn, rand_tensor({4, 4, 3}, 81),
                    mask_of({{1, 1, 1, 1}, {1, 1, 0, 0}, {1, 1, 1, 0}, {1, 0, 0, 0}}));
  }
}

TEST_CASE("RNN input_init: nn.RNN's bound 1/sqrt(H) or nn.Linear's 1/sqrt(F) for W_ih",
          "[layers][rnn][init]") {
  const int64_t F = 2, H = 64;
  auto build = [&](const std::string& init) {
    Rng rng(5);
    return make_layer(json{{"type", "rnn"}, {"hidden_size", H}, {"input_init", init}},
                      LayerArgs{F, &rng}, "model");
  };
  ModulePtr pr = build("rnn"), pl = build("linear");
  auto* r = dynamic_cast<RNN*>(pr.get());
  auto* l = dynamic_cast<RNN*>(pl.get());
  REQUIRE(r != nullptr);
  REQUIRE(l != nullptr);
  auto max_abs = [](const Tensor& t) {
    float m = 0;
    for (float v : t.to_vector()) m = std::max(m, std::abs(v));
    return m;
  };
  const float kr = 1.0f / std::sqrt(static_cast<float>(H)), kl = 1.0f / std::sqrt(static_cast<float>(F));
  CHECK(max_abs(r->weight_ih) <= kr);
  CHECK(max_abs(r->weight_ih) > 0.8f * kr);  // 128 draws fill the range
  CHECK(max_abs(l->weight_ih) <= kl);
  CHECK(max_abs(l->weight_ih) > 0.8f * kl);
  // Same draws, other bound: W_ih scales by sqrt(H/F); everything else is unchanged.
  for (int64_t i = 0; i < H * F; ++i)
    CHECK(l->weight_ih.data()[i] == Approx(r->weight_ih.data()[i] * kl / kr).margin(1e-6));
  CHECK(l->weight_hh.to_vector() == r->weight_hh.to_vector());
  CHECK(l->bias_ih.to_vector() == r->bias_ih.to_vector());
  CHECK(l->bias_hh.to_vector() == r->bias_hh.to_vector());
  // The default is nn.RNN's: bit-identical to input_init "rnn".
  Rng rng(5);
  ModulePtr pd = make_layer(json{{"type", "rnn"}, {"hidden_size", H}}, LayerArgs{F, &rng}, "model");
  CHECK(dynamic_cast<RNN*>(pd.get())->weight_ih.to_vector() == r->weight_ih.to_vector());
  CHECK(pl->extra_repr().find("input_init=linear") != std::string::npos);
  REQUIRE_THROWS_MENTIONING(build("xavier"), "model.input_init", "linear");
}

TEST_CASE("RNN norm masked key: only for the batchnorm types", "[layers][rnn][unmasked]") {
  Rng rng(1);
  ModulePtr m = make_layer(json{{"type", "rnn"}, {"hidden_size", 4},
                                {"norm", {{"type", "batchnorm"}, {"masked", false}}}},
                           LayerArgs{3, &rng}, "model");
  CHECK_FALSE(dynamic_cast<RNN*>(m.get())->options().norm_masked);
  CHECK(m->extra_repr().find("unmasked") != std::string::npos);
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "rnn"}, {"norm", {{"type", "layernorm"}, {"masked", false}}}},
                 LayerArgs{3, &rng}, "model"),
      "model.norm.masked");
}
