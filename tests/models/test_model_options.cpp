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
