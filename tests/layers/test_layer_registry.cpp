// The layer registry: building layers from JSON, width chaining in Sequential specs, and
// errors that name the key and suggest the closest valid name.
#include "helpers.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/registry.h"
#include "layers/sequential.h"

using namespace nl;

TEST_CASE("layer registry builds each of its basic layers by type name", "[layers][registry]") {
  Rng rng(1);
  LayerArgs args{4, &rng};
  auto lin = make_layer(json{{"type", "linear"}, {"out_features", 3}, {"bias", false}}, args);
  REQUIRE(lin->type_name() == "Linear");
  REQUIRE(lin->print() == "Linear(in_features=4, out_features=3, bias=false)");
  REQUIRE(make_layer(json{{"type", "linear"}}, args)->output_features(4) == 4);
  auto emb = make_layer(json{{"type", "embedding"}, {"num_embeddings", 10}, {"embedding_dim", 5}}, args);
  REQUIRE(std::dynamic_pointer_cast<Embedding>(emb)->weight.shape() == Shape{10, 5});
  auto drop = make_layer(json{{"type", "dropout"}, {"p", 0.25}}, args);
  REQUIRE(std::dynamic_pointer_cast<Dropout>(drop)->options().p == 0.25f);
  const std::vector<std::pair<const char*, const char*>> acts = {
      {"relu", "ReLU"}, {"gelu", "GELU"}, {"tanh", "Tanh"}, {"sigmoid", "Sigmoid"}};
  for (auto [type, name] : acts) REQUIRE(make_layer(json{{"type", type}}, args)->type_name() == name);
}

TEST_CASE("layer registry builds a sequential spec and chains feature widths", "[layers][registry]") {
  Rng rng(2);
  const json spec = json::parse(R"({"type": "sequential", "layers": [
      {"type": "linear", "out_features": 8}, {"type": "gelu"}, {"type": "dropout", "p": 0.1},
      {"type": "linear", "out_features": 2}]})");
  auto m = make_layer(spec, LayerArgs{5, &rng}, "model.head");
  auto seq = std::dynamic_pointer_cast<Sequential>(m);
  REQUIRE(seq);
  REQUIRE(seq->size() == 4);
  REQUIRE(std::dynamic_pointer_cast<Linear>((*seq)[3])->options().in_features == 8);
  REQUIRE(m->output_features(5) == 2);
  m->eval();
  REQUIRE(m->forward(Tensor::ones({3, 5})).shape() == Shape{3, 2});
  // An error inside the list names the element's path.
  const json bad = json::parse(R"({"type": "sequential", "layers": [{"type": "relu"}, {"type": "linear", "out_feature": 3}]})");
  REQUIRE_THROWS_MENTIONING(make_layer(bad, LayerArgs{5, &rng}, "model.head"),
                            "model.head.layers.1.out_feature", "out_features");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "sequential"}, {"layers", json::array({1})}},
                                       LayerArgs{5, &rng}), "layers.0", "object");
}

TEST_CASE("layer registry errors: unknown type and key suggest the closest name", "[layers][registry][errors]") {
  Rng rng(3);
  LayerArgs args{4, &rng};
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "lnear"}}, args, "model.proj"), "model.proj.type",
                            "did you mean 'linear'");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "linear"}, {"out_featurs", 3}}, args), "out_featurs",
                            "did you mean 'layer.out_features'");
  REQUIRE_THROWS_MENTIONING(make_layer(json::object(), args), "type", "required", "linear");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "dropout"}, {"p", 1.5}}, args), "p", "out of range");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "linear"}, {"in_features", 3}}, args), "in_features",
                            "4 features");
  REQUIRE_THROWS_MENTIONING(make_layer(json{{"type", "embedding"}, {"embedding_dim", 3}}, args),
                            "num_embeddings", "required");
  REQUIRE_THROWS_AS(make_layer(json{{"type", "linear"}}, LayerArgs{4, nullptr}), ValueError);
  REQUIRE_THROWS_AS(layer_registry().add("relu", make_linear, "dup"), ValueError);
}
