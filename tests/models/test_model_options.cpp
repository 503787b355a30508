// Model options the lab's experiments select: unmasked BatchNorm in the sequence models
// (PyTorch's BatchNorm1d, E4), the MLP's input norm over raw features (C2), the RNN's input
// init (pitfall 13) at the model level, and that each default leaves the model unchanged.
#include <cmath>

#include "helpers.h"
#include "layers/batchnorm.h"
#include "models/mlp.h"
#include "models/model_test_util.h"

using namespace nl;
using namespace nl::test;

namespace {

std::vector<std::pair<std::string, std::vector<float>>> params_of(const Model& m) {
  std::vector<std::pair<std::string, std::vector<float>>> v;
  for (auto& [n, t] : m.named_parameters()) v.emplace_back(n, t.to_vector());
  return v;
}

json tiny_transformer(const json& norm) {
  return {{"type", "transformer_classifier"}, {"d_model", 8}, {"heads", 2}, {"layers", 2},
          {"ff", 16}, {"norm", norm}};
}

}  // namespace

TEST_CASE("transformer_classifier with unmasked BatchNorm: padding enters the statistics",
          "[models][unmasked]") {
  const DatasetInfo info = token_class_info(9, 3, 16);
  Batch b = make_seq_batch({5, 2, 7, 1}, 7, 9, 0, 11);
  Batch b2 = repad(b, 11, 9);  // the same sequences with more (and other) padding
  for (const char* placement : {"pre", "post"}) {
    INFO(placement);
    json spec = tiny_transformer({{"type", "batchnorm"}, {"masked", false}});
    spec["placement"] = placement;
    auto m1 = build_model(spec, info, 5), m2 = build_model(spec, info, 5);
    CHECK(max_abs_diff(m1->forward_batch(b), m2->forward_batch(b2)) > 1e-3);
    // Without padding, masked and unmasked are bit-identical.
    json masked = spec;
    masked["norm"]["masked"] = true;
    auto u = build_model(spec, info, 5), m = build_model(masked, info, 5);
    Batch full = make_seq_batch({6, 6, 6}, 6, 9, 0, 12);
    CHECK(u->forward_batch(full).to_vector() == m->forward_batch(full).to_vector());
  }
  // Every BatchNorm of the model (per block and the final one) is unmasked.
  auto m = build_model(tiny_transformer({{"type", "batchnorm"}, {"masked", false}}), info);
  int unmasked = 0;
  for (auto& [name, mod] : m->named_modules())
    if (auto* bn = dynamic_cast<const BatchNorm*>(mod)) unmasked += !bn->options().masked;
  CHECK(unmasked == 5);
  // The key belongs to BatchNorm: LayerNorm rejects it, naming it.
  REQUIRE_THROWS_MENTIONING(build_model(tiny_transformer({{"type", "layernorm"}, {"masked", false}}), info),
                            "model.norm.masked");
}

TEST_CASE("rnn_classifier with unmasked BatchNorm: padding enters the statistics", "[models][unmasked]") {
  const DatasetInfo info = token_class_info(9, 3);
  const json spec = {{"type", "rnn_classifier"}, {"hidden_size", 12}, {"embed_dim", 6},
                     {"norm", {{"type", "batchnorm"}, {"masked", false}}}};
  auto a = build_model(spec, info, 5), b = build_model(spec, info, 5);
  Batch s = make_seq_batch({5, 2, 7, 1}, 7, 9, 0, 11);
  CHECK(max_abs_diff(a->forward_batch(s), b->forward_batch(repad(s, 11, 9))) > 1e-3);
}

TEST_CASE("sequence models gradcheck with unmasked BatchNorm on padded batches",
          "[models][unmasked][gradcheck]") {
  auto check = [](const std::shared_ptr<Model>& m, const Batch& batch) {
    std::vector<Tensor> params = m->parameters();
    GradcheckOptions opt;
    opt.eps = 3e-3f;  // BatchNorm over few rows is strongly curved
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>&) { return m->forward_batch(batch); }, params, opt);
  };
  check(build_model(json{{"type", "rnn_classifier"}, {"hidden_size", 4}, {"embed_dim", 3}, {"pool", "mean"},
                         {"norm", {{"type", "batchnorm"}, {"masked", false}}}},
                    token_class_info(5, 3)),
        make_seq_batch({4, 2, 3, 4, 1}, 4, 5, 0, 9));
  check(build_model(json{{"type", "transformer_classifier"}, {"d_model", 4}, {"heads", 2}, {"layers", 1},
                         {"ff", 6}, {"norm", {{"type", "batchnorm"}, {"masked", false}}}},
                    token_class_info(5, 2, 8)),
        make_seq_batch({3, 2, 1}, 3, 5, 0, 4));
}

TEST_CASE("mlp input_norm: a norm over the raw input features before the first Linear",
          "[models][input_norm]") {
  const DatasetInfo info = flat_info(6, 3);
  // tanh: a relu kink within the finite-difference step would fail the gradcheck
  const json base = {{"type", "mlp"}, {"hidden", {5}}, {"activation", "tanh"}, {"norm", {{"type", "none"}}}};
  Batch batch;
  batch.inputs = rand_tensor({4, 6}, 3, false, -50.0f, 50.0f);
  // Hand-normalised inputs (double): LN per row over the 6 features, BN per feature over the batch.
  auto normalised = [&](bool per_row) {
    const Tensor& x = batch.inputs;
    Tensor y = Tensor::empty({4, 6});
    const int64_t n = per_row ? 6 : 4, groups = per_row ? 4 : 6;
    for (int64_t g = 0; g < groups; ++g) {
      auto at = [&](int64_t i) { return per_row ? x.at({g, i}) : x.at({i, g}); };
      double mean = 0, var = 0;
      for (int64_t i = 0; i < n; ++i) mean += at(i);
      mean /= n;
      for (int64_t i = 0; i < n; ++i) var += (at(i) - mean) * (at(i) - mean);
      var /= n;
      for (int64_t i = 0; i < n; ++i) {
        const float v = static_cast<float>((at(i) - mean) / std::sqrt(var + 1e-5));
        if (per_row) y.set({g, i}, v); else y.set({i, g}, v);
      }
    }
    return y;
  };
  auto plain = build_model(base, info, 9);
  for (const char* type : {"layernorm", "batchnorm"}) {
    INFO(type);
    json spec = base;
    spec["input_norm"] = type;
    auto m = build_model(spec, info, 9);
    // Same weights as the MLP without it (LN/BN draw nothing), plus input_norm.weight/bias.
    auto pm = params_of(*m), pp = params_of(*plain);
    REQUIRE(pm.size() == pp.size() + 2);
    CHECK(pm[0].first == "input_norm.weight");
    CHECK(std::vector(pm.begin() + 2, pm.end()) == pp);
    Batch hand;
    hand.inputs = normalised(std::string(type) == "layernorm");
    CHECK(max_abs_diff(m->forward_batch(batch), plain->forward_batch(hand)) < 1e-4);
    // gradcheck through the input norm
    Batch small;
    small.inputs = rand_tensor({5, 6}, 4, false);
    REQUIRE_GRADCHECK([&](const std::vector<Tensor>&) { return m->forward_batch(small); }, m->parameters());
  }
  // Default "none": no module, the same model as before.
  json none = base;
  none["input_norm"] = "none";
  CHECK(params_of(*build_model(none, info, 9)) == params_of(*plain));
  REQUIRE_THROWS_MENTIONING(
      build_model(json{{"type", "mlp"}, {"input_norm", "rmsnorm"}}, info), "model.input_norm");
}

TEST_CASE("rnn models take input_init at the model level", "[models][init]") {
  for (const char* type : {"rnn_regressor", "rnn_classifier"}) {
    INFO(type);
    const DatasetInfo info = std::string(type) == "rnn_regressor" ? adding_info() : feature_class_info(2, 3);
    auto r = build_model(json{{"type", type}, {"hidden_size", 64}}, info, 2);
    auto l = build_model(json{{"type", type}, {"hidden_size", 64}, {"input_init", "linear"}}, info, 2);
    float mr = 0, ml = 0;
    for (auto& [n, t] : r->named_parameters())
      if (n == "rnn.weight_ih") for (float v : t.to_vector()) mr = std::max(mr, std::abs(v));
    for (auto& [n, t] : l->named_parameters())
      if (n == "rnn.weight_ih") for (float v : t.to_vector()) ml = std::max(ml, std::abs(v));
    CHECK(mr <= 0.125f);
    CHECK(ml > 0.5f);
    CHECK(ml <= 1.0f / std::sqrt(2.0f));
  }
}

TEST_CASE("transformer_classifier with LayerNorm over [T, C]: fixed T works, padding enters, other T is a config error",
          "[models][normalized_shape]") {
  const DatasetInfo info = token_class_info(9, 3, 16);
  json spec = tiny_transformer({{"type", "layernorm"}, {"normalized_shape", {7, 8}}});
  auto a = build_model(spec, info, 5);
  Batch b = make_seq_batch({5, 2, 7, 1}, 7, 9, 0, 11);
  Tensor y = a->forward_batch(b);
  CHECK(y.shape() == Shape{4, 3});
  // Over (T, C) the statistics of each example include its padded positions (pitfall 4): other
  // padding values change the output. Over [C] (the default) they do not.
  Batch b2 = b;
  b2.inputs = b.inputs.clone();
  b2.inputs.set({1, 5}, 2.0f);  // row 1 has length 2: a padded position
  CHECK(max_abs_diff(y, a->forward_batch(b2)) > 1e-4);
  auto c = build_model(tiny_transformer({{"type", "layernorm"}}), info, 5);
  CHECK(max_abs_diff(c->forward_batch(b), c->forward_batch(b2)) == 0.0);
  // A batch padded to another length (data.loader.length_mode batch): a one-line ConfigError.
  REQUIRE_THROWS_AS(a->forward_batch(make_seq_batch({5, 2}, 6, 9, 0, 12)), ConfigError);
  REQUIRE_THROWS_MENTIONING(a->forward_batch(make_seq_batch({5, 2}, 6, 9, 0, 12)),
                            "model.norm.normalized_shape", "data.loader.length_mode");
}
