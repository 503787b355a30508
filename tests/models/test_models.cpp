// Model registry and construction: every model builds from its default config, output shapes
// per task, dotted parameter names, config errors.
#include "helpers.h"
#include "models/model_test_util.h"

using namespace nl;
using namespace nl::test;

TEST_CASE("model registry lists every model type", "[models]") {
  const auto names = model_registry().names();
  for (const char* n : {"mlp", "rnn_classifier", "rnn_regressor", "transformer_classifier", "transformer_lm"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
}

TEST_CASE("mlp builds from its default config: (B,F) -> (B,classes), (B,T,F) flattened", "[models]") {
  auto m = build_model(json{{"type", "mlp"}}, flat_info(6, 3));
  Batch b;
  b.inputs = rand_tensor({5, 6}, 1, false);
  CHECK(m->forward_batch(b).shape() == Shape{5, 3});
  // Fixed-length sequences (e.g. Fashion-MNIST rows) are flattened to T*F inputs.
  DatasetInfo seq = feature_class_info(4, 10, 3);
  auto m2 = build_model(json{{"type", "mlp"}, {"hidden", {8}}}, seq);
  Batch s = make_seq_batch({3, 3}, 3, 0, 4, 2);
  CHECK(m2->forward_batch(s).shape() == Shape{2, 10});
  // Regression: one output per example, shape (B).
  DatasetInfo reg = flat_info(6, 0);
  reg.task = TaskKind::regression;
  CHECK(build_model(json{{"type", "mlp"}}, reg)->forward_batch(b).shape() == Shape{5});
}

TEST_CASE("rnn_classifier builds from its default config for tokens and features", "[models]") {
  auto tok = build_model(json{{"type", "rnn_classifier"}}, token_class_info(7, 3));
  CHECK(tok->forward_batch(make_seq_batch({4, 2, 5}, 5, 7, 0, 1)).shape() == Shape{3, 3});
  auto feat = build_model(json{{"type", "rnn_classifier"}, {"pool", "mean"}}, feature_class_info(4, 5));
  CHECK(feat->forward_batch(make_seq_batch({4, 2}, 6, 0, 4, 1)).shape() == Shape{2, 5});
  // Projected features: embed_dim > 0 adds a Linear in front of the RNN.
  auto proj = build_model(json{{"type", "rnn_classifier"}, {"embed_dim", 8}, {"hidden_size", 6}},
                          feature_class_info(4, 5));
  CHECK(proj->forward_batch(make_seq_batch({3}, 3, 0, 4, 1)).shape() == Shape{1, 5});
}

TEST_CASE("rnn_regressor builds from its default config: (B,T,2) -> (B)", "[models]") {
  auto m = build_model(json{{"type", "rnn_regressor"}, {"hidden_size", 16}}, adding_info());
  CHECK(m->forward_batch(make_seq_batch({5, 3, 7, 1}, 7, 0, 2, 3)).shape() == Shape{4});
}

TEST_CASE("transformer_classifier builds from its default config", "[models]") {
  auto m = build_model(json{{"type", "transformer_classifier"}, {"d_model", 16}}, token_class_info(7, 4));
  CHECK(m->forward_batch(make_seq_batch({4, 6, 1}, 6, 7, 0, 1)).shape() == Shape{3, 4});
  auto f = build_model(json{{"type", "transformer_classifier"}, {"d_model", 8}, {"heads", 2}},
                       feature_class_info(3, 2));
  CHECK(f->forward_batch(make_seq_batch({2, 5}, 5, 0, 3, 1)).shape() == Shape{2, 2});
}

TEST_CASE("transformer_lm builds from its default config: (B,T) -> (B,T,V)", "[models]") {
  auto m = build_model(json{{"type", "transformer_lm"}, {"d_model", 16}}, lm_info(11, 16));
  Batch b = make_seq_batch({9, 9}, 9, 11, 0, 1);
  b.targets = Tensor::zeros({2, 9});
  CHECK(m->forward_batch(b).shape() == Shape{2, 9, 11});
  // Longer than the positional table: a clear error.
  REQUIRE_THROWS_MENTIONING(m->forward_batch(make_seq_batch({17}, 17, 11, 0, 1)), "max_len");
}

TEST_CASE("model parameter names are dotted", "[models]") {
  auto lm = build_model(json{{"type", "transformer_lm"}, {"d_model", 8}, {"heads", 2}, {"layers", 2}},
                        lm_info());
  std::vector<std::string> names;
  for (auto& [n, _] : lm->named_parameters()) names.push_back(n);
  for (const char* want : {"input.embed.weight", "pos.weight", "blocks.0.norm1.weight",
                           "blocks.1.norm2.bias", "norm.weight", "head.weight", "head.bias"})
    CHECK(std::find(names.begin(), names.end(), want) != names.end());
  auto mlp = build_model(json{{"type", "mlp"}, {"hidden", {4, 4}}, {"norm", {{"type", "batchnorm"}}}},
                         flat_info());
  std::vector<std::string> mnames;
  for (auto& [n, _] : mlp->named_parameters()) mnames.push_back(n);
  for (const char* want : {"hidden.0.linear.weight", "hidden.1.norm.weight", "head.bias"})
    CHECK(std::find(mnames.begin(), mnames.end(), want) != mnames.end());
  bool has_running = false;
  for (auto& [n, _] : mlp->named_buffers()) has_running |= n == "hidden.0.norm.running_mean";
  CHECK(has_running);
  auto rnn = build_model(json{{"type", "rnn_classifier"}, {"norm", {{"type", "layernorm"}}}},
                         token_class_info());
  std::vector<std::string> rnames;
  for (auto& [n, _] : rnn->named_parameters()) rnames.push_back(n);
  for (const char* want : {"input.embed.weight", "rnn.weight_hh", "rnn.norm.weight", "head.weight"})
    CHECK(std::find(rnames.begin(), rnames.end(), want) != rnames.end());
}

TEST_CASE("model config: one key flips the norm of every layer", "[models]") {
  for (const char* type : {"layernorm", "batchnorm", "rmsnorm", "none"}) {
    auto m = build_model(json{{"type", "transformer_classifier"}, {"d_model", 8}, {"heads", 2},
                              {"layers", 1}, {"norm", {{"type", type}}}},
                         token_class_info());
    const std::string s = m->print();
    INFO(s);
    if (std::string(type) == "layernorm") CHECK(s.find("LayerNorm") != std::string::npos);
    if (std::string(type) == "batchnorm") CHECK(s.find("BatchNorm") != std::string::npos);
    if (std::string(type) == "batchnorm") CHECK(s.find("LayerNorm") == std::string::npos);
  }
}

TEST_CASE("make_model: unknown model type suggests the closest name", "[models]") {
  REQUIRE_THROWS_MENTIONING(build_model(json{{"type", "rnn_clasifier"}}, token_class_info()),
                            "model.type", "rnn_classifier");
  REQUIRE_THROWS_MENTIONING(build_model(json{{"type", "mlp"}, {"hiden", {4}}}, flat_info()),
                            "model.hiden", "model.hidden");
  REQUIRE_THROWS_MENTIONING(build_model(json{{"type", "mlp"}, {"norm", {{"type", "layernrom"}}}}, flat_info()),
                            "model.norm.type", "layernorm");
  REQUIRE_THROWS_MENTIONING(
      build_model(json{{"type", "transformer_lm"}, {"d_model", 10}, {"heads", 4}}, lm_info()), "model.heads");
  // A model that cannot serve the dataset's task says so.
  REQUIRE_THROWS_MENTIONING(build_model(json{{"type", "transformer_lm"}}, token_class_info()),
                            "transformer_lm", "language-model");
  REQUIRE_THROWS_MENTIONING(build_model(json{{"type", "rnn_regressor"}}, token_class_info()), "rnn_regressor");
}

TEST_CASE("model config: every key is documented with its full path", "[models]") {
  json spec = {{"type", "transformer_lm"}, {"d_model", 8}, {"heads", 2}};
  ConfigReader cfg(spec, "model");
  Rng rng(1);
  make_model(cfg, ModelArgs{lm_info(), &rng});
  std::vector<std::string> keys;
  for (const KeyDoc& d : cfg.docs()) {
    keys.push_back(d.key);
    CHECK(!d.doc.empty());
  }
  for (const char* want : {"model.type", "model.d_model", "model.layers", "model.placement",
                           "model.norm", "model.norm.type", "model.norm.eps"})
    CHECK(std::find(keys.begin(), keys.end(), want) != keys.end());
}
