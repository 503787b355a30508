// Multi-head self-attention: values by hand, gradients with causal and key-padding masks,
// padding and causality semantics, fully masked rows.
#include <cmath>

#include "helpers.h"
#include "layers/attention.h"
#include "layers/linear.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

MultiheadAttention make(int64_t d, int64_t heads, bool causal = false, uint64_t seed = 3) {
  AttentionOptions o;
  o.d_model = d;
  o.heads = heads;
  o.causal = causal;
  Rng rng(seed);
  return MultiheadAttention(o, rng);
}

std::vector<Tensor> inputs_with_params(const Tensor& x, const Module& m) {
  std::vector<Tensor> in{x};
  for (const Tensor& p : m.parameters()) in.push_back(p);
  return in;
}

}  // namespace

TEST_CASE("MultiheadAttention matches a hand-computed single-head example", "[layers][attention]") {
  // Identity projections, zero biases: out = softmax(x xᵀ / √d) x.
  MultiheadAttention attn = make(2, 1);
  std::vector<float> w(3 * 2 * 2, 0.0f);
  for (int p = 0; p < 3; ++p) w[(2 * p) * 2 + 0] = w[(2 * p + 1) * 2 + 1] = 1.0f;
  attn.in_proj->weight.copy_(Tensor::from_vector(w, {6, 2}));
  attn.in_proj->bias.fill_(0.0f);
  attn.out_proj->weight.copy_(Tensor::from_vector({1, 0, 0, 1}, {2, 2}));
  attn.out_proj->bias.fill_(0.0f);
  const float x[2][2] = {{1.0f, 0.0f}, {0.5f, 2.0f}};
  Tensor out = attn.forward(Tensor::from_vector({1.0f, 0.0f, 0.5f, 2.0f}, {1, 2, 2}));
  for (int i = 0; i < 2; ++i) {
    double s[2], z = 0.0;
    for (int j = 0; j < 2; ++j) {
      s[j] = std::exp((x[i][0] * x[j][0] + x[i][1] * x[j][1]) / std::sqrt(2.0));
      z += s[j];
    }
    for (int c = 0; c < 2; ++c)
      CHECK(out.at({0, i, c}) == Approx((s[0] * x[0][c] + s[1] * x[1][c]) / z).epsilon(1e-5));
  }
  // Causal: the first position sees only itself.
  Tensor causal =
      attn.forward(Tensor::from_vector({1.0f, 0.0f, 0.5f, 2.0f}, {1, 2, 2}), Tensor(), true);
  CHECK(causal.at({0, 0, 0}) == Approx(1.0f));
  CHECK(causal.at({0, 0, 1}) == Approx(0.0f).margin(1e-7));
}

TEST_CASE("MultiheadAttention gradients without masks, causal, key-padding and both",
          "[layers][attention][gradcheck]") {
  MultiheadAttention attn = make(4, 2);
  const Tensor kpm = Tensor::from_vector({1, 1, 1, 1, 1, 1, 0, 0}, {2, 4});
  for (bool causal : {false, true})
    for (bool padded : {false, true}) {
      INFO("causal " << causal << ", padded " << padded);
      REQUIRE_GRADCHECK(
          [&](const std::vector<Tensor>& in) {
            return attn.forward(in[0], padded ? kpm : Tensor(), causal);
          },
          inputs_with_params(rand_tensor({2, 4, 4}, 10 + causal + 2 * padded), attn));
    }
  // one head, B = 1, T = 1 (the smallest case)
  MultiheadAttention one = make(3, 1);
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return one.forward(in[0]); },
                    inputs_with_params(rand_tensor({1, 1, 3}, 20), one));
}

TEST_CASE("split_heads and merge_heads gradients and round trip",
          "[layers][attention][gradcheck]") {
  const Tensor qkv = rand_tensor({2, 3, 12}, 30);
  for (int64_t part : {0, 1, 2})
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return split_heads(in[0], part, 2, 0.5f); }, {qkv});
  REQUIRE_GRADCHECK([](const std::vector<Tensor>& in) { return merge_heads(in[0], 2); },
                    {rand_tensor({4, 3, 2}, 31)});
  // merge(split(V)) gives back V's columns of qkv
  Tensor v = merge_heads(split_heads(qkv.detach(), 2, 2), 2);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t j = 0; j < 4; ++j) REQUIRE(v.at({b, t, j}) == qkv.at({b, t, 8 + j}));
  // head h of Q holds columns [h*dh, (h+1)*dh)
  Tensor q = split_heads(qkv.detach(), 0, 2);
  REQUIRE(q.at({1 * 2 + 1, 2, 1}) == qkv.at({1, 2, 3}));
}

TEST_CASE("MultiheadAttention with a key-padding mask equals the unpadded sequence",
          "[layers][attention]") {
  for (bool causal : {false, true}) {
    INFO("causal " << causal);
    MultiheadAttention attn = make(8, 2, causal);
    Tensor x = rand_tensor({2, 5, 8}, 40, false);
    for (int64_t t = 3; t < 5; ++t)  // garbage in sequence 1's padding
      for (int64_t j = 0; j < 8; ++j) x.set({1, t, j}, 50.0f);
    const Tensor kpm = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
    Tensor out = attn.forward_masked(x, kpm);
    Tensor alone = attn.forward(x.slice(0, 1, 2).slice(1, 0, 3));
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t j = 0; j < 8; ++j)
        CHECK(out.at({1, t, j}) == Approx(alone.at({0, t, j})).margin(1e-5));
    Tensor full = attn.forward(x.slice(0, 0, 1));  // sequence 0 has no padding
    for (int64_t t = 0; t < 5; ++t)
      for (int64_t j = 0; j < 8; ++j)
        CHECK(out.at({0, t, j}) == Approx(full.at({0, t, j})).margin(1e-5));
  }
}

TEST_CASE("MultiheadAttention causal output at t does not depend on later inputs",
          "[layers][attention]") {
  MultiheadAttention attn = make(8, 4, true);
  Tensor x = rand_tensor({2, 6, 8}, 50, false);
  Tensor base = attn.forward(x);
  for (int64_t t = 0; t < 5; ++t) {
    Tensor y = x.clone();
    for (int64_t s = t + 1; s < 6; ++s)
      for (int64_t j = 0; j < 8; ++j) y.set({0, s, j}, x.at({0, s, j}) + 3.0f);
    Tensor out = attn.forward(y);
    for (int64_t s = 0; s <= t; ++s)
      for (int64_t j = 0; j < 8; ++j) REQUIRE(out.at({0, s, j}) == base.at({0, s, j}));
    bool later_changed = false;  // without the mask it would depend: the test can fail
    for (int64_t j = 0; j < 8; ++j)
      later_changed |= out.at({0, t + 1, j}) != base.at({0, t + 1, j});
    REQUIRE(later_changed);
  }
}

TEST_CASE("MultiheadAttention fully masked rows stay finite", "[layers][attention][gradcheck]") {
  MultiheadAttention attn = make(4, 2);
  // Sequence 1 is all padding; with causal + left padding, sequence 0's first rows see no key.
  const Tensor kpm = Tensor::from_vector({0, 0, 1, 1, 0, 0, 0, 0}, {2, 4});
  for (bool causal : {false, true}) {
    Tensor x = rand_tensor({2, 4, 4}, 60);
    Tensor out = attn.forward(x, kpm, causal);
    for (float v : out.to_vector()) REQUIRE(std::isfinite(v));
    // A row with no visible key gets zero attention: its output is the output bias.
    for (int64_t j = 0; j < 4; ++j)
      CHECK(out.at({1, 2, j}) == Approx(attn.out_proj->bias.at({j})).margin(1e-6));
    sum(out).backward();
    for (float v : x.grad().to_vector()) REQUIRE(std::isfinite(v));
    REQUIRE_GRADCHECK(
        [&](const std::vector<Tensor>& in) { return attn.forward(in[0], kpm, causal); },
        {rand_tensor({2, 4, 4}, 61)});
  }
}

TEST_CASE("MultiheadAttention from the registry and errors", "[layers][attention]") {
  Rng rng(1);
  ModulePtr m = make_layer(json{{"type", "attention"}, {"heads", 4}, {"causal", true}},
                           LayerArgs{16, &rng}, "model.attn");
  REQUIRE(m->forward(Tensor::zeros({2, 3, 16})).shape() == Shape{2, 3, 16});
  REQUIRE(m->num_parameters() == 16 * 48 + 48 + 16 * 16 + 16);
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "attention"}, {"heads", 3}}, LayerArgs{16, &rng}, "m"), "m.heads");
  REQUIRE_THROWS_MENTIONING(m->forward(Tensor::zeros({2, 3, 8})), "MultiheadAttention",
                            "(2, 3, 8)");
  REQUIRE_THROWS_MENTIONING(m->forward_masked(Tensor::zeros({2, 3, 16}), Tensor::ones({2, 4})),
                            "key_padding_mask", "(2, 4)");
}

TEST_CASE("MultiheadAttention dropout on the attention weights is training-only",
          "[layers][attention]") {
  AttentionOptions o;
  o.d_model = 8;
  o.heads = 2;
  Rng r1(9), r2(9);
  MultiheadAttention plain(o, r1);
  o.dropout = 0.5;
  MultiheadAttention dropped(o, r2);  // same projections: dropout draws its seed after them
  const Tensor x = rand_tensor({2, 5, 8}, 140, false);
  const Tensor base = plain.forward(x);
  REQUIRE(nl::test::max_abs_diff(dropped.forward(x), base) > 1e-3);
  dropped.eval();
  REQUIRE(nl::test::max_abs_diff(dropped.forward(x), base) == 0.0);
}
