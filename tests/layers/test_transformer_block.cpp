// Transformer block: gradients for pre/post placement with every norm, padding semantics
// (LN: equals the unpadded sequence; masked BN: valid outputs ignore the padding), values.
#include <cmath>

#include "helpers.h"
#include "layers/linear.h"
#include "layers/transformer_block.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {

TransformerBlock make(const std::string& placement, const std::string& norm, bool causal = false,
                      uint64_t seed = 5) {
  TransformerBlockOptions o;
  o.d_model = 4;
  o.heads = 2;
  o.ff = 8;
  o.placement = placement;
  o.norm = json{{"type", norm}};
  o.causal = causal;
  Rng rng(seed);
  return TransformerBlock(o, rng);
}

std::vector<Tensor> inputs_with_params(const Tensor& x, const Module& m) {
  std::vector<Tensor> in{x};
  for (const Tensor& p : m.parameters()) in.push_back(p);
  return in;
}

}  // namespace

TEST_CASE("TransformerBlock gradients, pre and post norm, every norm type",
          "[layers][transformer][gradcheck]") {
  // 3 valid rows of 4 in sequence 1: BN statistics over the 7 valid positions
  const Tensor kpm = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 0}, {2, 4});
  for (const char* placement : {"pre", "post"})
    for (const char* norm : {"none", "layernorm", "batchnorm", "rmsnorm"}) {
      INFO(placement << "-norm, " << norm);
      TransformerBlock block = make(placement, norm);
      GradcheckOptions opt;
      opt.eps = 3e-3f;  // GELU, softmax and the norms are curved; a smaller step fits the tolerance
      // Outputs at padded positions are don't-care (BatchNorm need not define their gradient):
      // check the valid ones.
      REQUIRE_GRADCHECK(
          [&](const std::vector<Tensor>& in) {
            return mul(block.forward(in[0], kpm, true), reshape(kpm, {2, 4, 1}));
          },
          inputs_with_params(rand_tensor({2, 4, 4}, 100), block), opt);
      REQUIRE_GRADCHECK([&](const std::vector<Tensor>& in) { return block.forward(in[0]); },
                        inputs_with_params(rand_tensor({3, 2, 4}, 101), block), opt);
    }
}

TEST_CASE("TransformerBlock with a key-padding mask matches the unpadded sequence",
          "[layers][transformer]") {
  for (const char* placement : {"pre", "post"})
    for (const char* norm : {"layernorm", "rmsnorm", "none"}) {
      INFO(placement << "-norm, " << norm);
      TransformerBlock block = make(placement, norm);
      Tensor x = rand_tensor({2, 5, 4}, 110, false);
      for (int64_t j = 0; j < 4; ++j) x.set({1, 4, j}, 30.0f);  // garbage padding
      const Tensor kpm = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {2, 5});
      Tensor out = block.forward_masked(x, kpm);
      Tensor alone = block.forward(x.slice(0, 1, 2).slice(1, 0, 4));
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t j = 0; j < 4; ++j)
          CHECK(out.at({1, t, j}) == Approx(alone.at({0, t, j})).margin(1e-5));
    }
}

TEST_CASE("TransformerBlock with masked BatchNorm ignores the padded positions",
          "[layers][transformer]") {
  for (const char* placement : {"pre", "post"}) {
    INFO(placement);
    TransformerBlock block = make(placement, "batchnorm");
    const Tensor kpm = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {2, 5});
    Tensor x = rand_tensor({2, 5, 4}, 120, false);
    Tensor out1 = block.forward_masked(x, kpm);
    Tensor y = x.clone();
    for (int64_t t = 3; t < 5; ++t)
      for (int64_t j = 0; j < 4; ++j) y.set({1, t, j}, -40.0f + 7.0f * j);
    Tensor out2 = block.forward_masked(y, kpm);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t t = 0; t < (b == 0 ? 5 : 3); ++t)
        for (int64_t j = 0; j < 4; ++j)
          CHECK(out1.at({b, t, j}) == Approx(out2.at({b, t, j})).margin(1e-5));
    // Without the mask the padding enters the statistics: the test can fail.
    REQUIRE(nl::test::max_abs_diff(block.forward(x).slice(0, 0, 1),
                                   block.forward(y).slice(0, 0, 1)) > 1e-3);
  }
}

TEST_CASE("TransformerBlock values: zero branches give the identity (pre) and the norm (post)",
          "[layers][transformer]") {
  for (const char* placement : {"pre", "post"}) {
    TransformerBlock block = make(placement, "layernorm");
    auto* out_proj = block.attn->out_proj.get();
    auto* ff2 = dynamic_cast<Linear*>(block.ff2.get());
    REQUIRE(ff2 != nullptr);
    for (Tensor t : {out_proj->weight, out_proj->bias, ff2->weight, ff2->bias}) t.fill_(0.0f);
    Tensor x = rand_tensor({2, 3, 4}, 130, false, -2.0f, 2.0f);
    Tensor y = block.forward(x);
    if (std::string(placement) == "pre") {
      REQUIRE(nl::test::max_abs_diff(y, x) == 0.0);
    } else {  // y = LN(LN(x)) = LN(x) with γ = 1, β = 0: each row has mean 0 and variance ~1
      for (int64_t r = 0; r < 6; ++r) {
        double m = 0.0, v = 0.0;
        for (int64_t j = 0; j < 4; ++j) m += y.data()[r * 4 + j] / 4.0;
        for (int64_t j = 0; j < 4; ++j) v += std::pow(y.data()[r * 4 + j] - m, 2) / 4.0;
        CHECK(m == Approx(0.0).margin(1e-6));
        CHECK(v == Approx(1.0).epsilon(1e-3));  // eps = 1e-5 in the sqrt, twice
      }
    }
  }
}

TEST_CASE("TransformerBlock from the registry and errors", "[layers][transformer]") {
  Rng rng(2);
  ModulePtr m = make_layer(json{{"type", "transformer_block"},
                                {"heads", 2},
                                {"ff", 32},
                                {"placement", "post"},
                                {"norm", {{"type", "batchnorm"}}}},
                           LayerArgs{8, &rng}, "model.block");
  std::vector<std::string> names;
  for (auto& [n, _] : m->named_parameters()) names.push_back(n);
  REQUIRE(std::find(names.begin(), names.end(), "norm1.weight") != names.end());
  REQUIRE(std::find(names.begin(), names.end(), "ff2.bias") != names.end());
  REQUIRE(std::find(names.begin(), names.end(), "attn.in_proj.weight") != names.end());
  REQUIRE(m->forward_masked(rand_tensor({3, 4, 8}, 1, false), Tensor::ones({3, 4})).shape() ==
          Shape{3, 4, 8});
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "transformer_block"}, {"placement", "middle"}},
                                       LayerArgs{8, &rng}, "m"),
                            "m.placement", "pre");
  REQUIRE_THROWS_MENTIONING(
      make_layer(json{{"type", "transformer_block"}, {"norm", {{"type", "layernrom"}}}},
                 LayerArgs{8, &rng}, "m"),
      "m.norm.type", "layernorm");
  REQUIRE_THROWS_MENTIONING(m->forward(Tensor::zeros({2, 3, 5})), "TransformerBlock", "(2, 3, 5)");
}
