// ConfigReader: typed getters with defaults and ranges, unknown keys with suggestions, the
// effective config and docs, --set overrides and JSON syntax errors with line/column.
#include "core/config_reader.h"
#include "helpers.h"

using namespace nl;

TEST_CASE("config reader fills defaults into the effective config and documents keys", "[config]") {
  const json src = json::parse(R"({"train": {"steps": 7}})");
  ConfigReader root(src, "");
  const int64_t seed = root.get_int("seed", 3, "the seed", 0);
  ConfigReader train = root.sub("train", "training loop");
  REQUIRE(train.get_int("steps", 100, "steps to run", 1) == 7);
  REQUIRE(train.get_number("lr", 0.5, "learning rate", 0.0, 10.0) == 0.5);
  REQUIRE(train.get_bool("shuffle", true, "shuffle batches"));
  REQUIRE(train.get_string("mode", "a", "mode", {"a", "b"}) == "a");
  REQUIRE(train.get_int_list("sizes", {4, 8}, "sizes") == std::vector<int64_t>{4, 8});
  train.finish();
  root.finish();
  REQUIRE(seed == 3);
  const json& eff = root.effective();
  REQUIRE(eff["seed"] == 3);
  REQUIRE(eff["train"]["steps"] == 7);
  REQUIRE(eff["train"]["lr"] == 0.5);
  REQUIRE(eff["train"]["sizes"] == json::array({4, 8}));
  // Docs in declaration order with full dotted keys.
  std::vector<std::string> keys;
  for (const KeyDoc& d : root.docs()) keys.push_back(d.key);
  REQUIRE(keys == std::vector<std::string>{"seed", "train", "train.steps", "train.lr", "train.shuffle",
                                           "train.mode", "train.sizes"});
  REQUIRE(root.docs()[2].range == "[1, inf]");
  REQUIRE(root.docs()[3].range == "[0, 10]");
  REQUIRE(root.docs()[5].range == "one of: a, b");
}

TEST_CASE("config reader rejects unknown keys with the closest valid key", "[config]") {
  const json src = json::parse(R"({"train": {"batchsize": 8}})");
  ConfigReader root(src, "");
  ConfigReader train = root.sub("train", "");
  train.get_int("batch_size", 32, "", 1);
  train.get_int("steps", 10, "", 1);
  REQUIRE_THROWS_MENTIONING(train.finish(), "unknown key 'train.batchsize'",
                            "did you mean 'train.batch_size'?");
  // Nothing close: the valid keys are listed instead.
  const json src2 = json::parse(R"({"zzzzzzzzzz": 1})");
  ConfigReader r2(src2, "");
  r2.get_int("seed", 0, "");
  REQUIRE_THROWS_MENTIONING(r2.finish(), "unknown key 'zzzzzzzzzz'", "valid keys: seed");
}

TEST_CASE("config reader type and range errors name the key, value and range", "[config]") {
  const json src = json::parse(
      R"({"a": "8", "b": 2.5, "c": 0, "d": 1e300, "e": 18446744073709551615, "f": -0.5,
          "g": "yes", "h": "layrnorm", "i": [1, "x"], "j": 4, "k": 3.0})");
  ConfigReader r(src, "train");
  REQUIRE_THROWS_MENTIONING(r.get_int("a", 1, ""), "'train.a'", "expected an integer", "string");
  REQUIRE_THROWS_MENTIONING(r.get_int("b", 1, ""), "'train.b'", "expected an integer", "2.5");
  REQUIRE_THROWS_MENTIONING(r.get_int("c", 1, "", 1, 100), "'train.c'", "value 0", "[1, 100]");
  REQUIRE_THROWS_MENTIONING(r.get_int("d", 1, ""), "'train.d'", "expected an integer");
  REQUIRE_THROWS_MENTIONING(r.get_int("e", 1, ""), "'train.e'", "out of range");
  REQUIRE_THROWS_MENTIONING(r.get_number("f", 0.1, "", 0.0, 1.0), "'train.f'", "-0.5", "[0, 1]");
  REQUIRE_THROWS_MENTIONING(r.get_bool("g", true, ""), "'train.g'", "expected true or false");
  REQUIRE_THROWS_MENTIONING(r.get_string("h", "none", "", {"none", "layernorm"}), "'train.h'",
                            "one of: none, layernorm", "did you mean 'layernorm'?");
  REQUIRE_THROWS_MENTIONING(r.get_int_list("i", {}, ""), "'train.i'", "\"x\"");
  REQUIRE_THROWS_MENTIONING(r.sub("j", ""), "'train.j'", "expected an object");
  REQUIRE(r.get_int("k", 1, "") == 3);  // a whole number written as 3.0 is an integer
  REQUIRE_THROWS_AS(ConfigReader(json::array({1}), "model"), ConfigError);
}

TEST_CASE("config overrides: --set key=value with dotted keys and JSON values", "[config]") {
  json cfg = json::parse(R"({"model": {"hidden": 8}, "train": {"steps": 5}})");
  apply_override(cfg, "train.steps=50");
  apply_override(cfg, "model.norm.type=layernorm");  // bare word = string, objects created
  apply_override(cfg, "model.sizes=[1,2]");
  apply_override(cfg, "optim.lr=1e-3");
  apply_override(cfg, "train.flag=true");
  apply_override(cfg, "name=\"x=y\"");  // only the first '=' splits
  REQUIRE(cfg["train"]["steps"] == 50);
  REQUIRE(cfg["model"]["hidden"] == 8);
  REQUIRE(cfg["model"]["norm"]["type"] == "layernorm");
  REQUIRE(cfg["model"]["sizes"] == json::array({1, 2}));
  REQUIRE(cfg["optim"]["lr"].get<double>() == 1e-3);
  REQUIRE(cfg["train"]["flag"] == true);
  REQUIRE(cfg["name"] == "x=y");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "train.steps"), "key=value");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "=3"), "key=value");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "train..x=3"), "malformed key");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "train.steps.x=3"), "non-object");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "train.steps="), "no value");
}

TEST_CASE("config JSON syntax errors give file, line and column", "[config]") {
  const std::string text = "{\n  \"a\": 1,\n  \"b\": [1, 2,,]\n}";
  REQUIRE_THROWS_MENTIONING(parse_json_text(text, "my.json"), "my.json:3:14", "malformed JSON");
  REQUIRE_THROWS_MENTIONING(parse_json_text("{\"a\": 1", "t.json"), "t.json:1:8");
  REQUIRE_THROWS_AS(parse_json_text("{\n\"a\" 1}", "u.json"), ConfigError);
  REQUIRE_THROWS_MENTIONING(load_json_file("/nonexistent/cfg.json"), "/nonexistent/cfg.json");
}

TEST_CASE("closest_match suggests near keys only", "[config]") {
  REQUIRE(edit_distance("kitten", "sitting") == 3);
  REQUIRE(closest_match("batchsize", {"batch_size", "steps"}) == "batch_size");
  REQUIRE(closest_match("lr", {"learning_rate", "momentum"}).empty());
  REQUIRE(closest_match("eval", {"eval_interval", "steps"}) == "eval_interval");  // prefix
  // The same first word: the fewest edits among the keys that share it.
  REQUIRE(closest_match("eval_every", {"steps", "eval_interval", "eval_batches"}) == "eval_interval");
  REQUIRE(closest_match("eval_count", {"steps", "eval_interval", "eval_batches"}) == "eval_batches");
  REQUIRE(closest_match("lr_decay", {"lr", "momentum"}) == "lr");  // prefix before first word
  REQUIRE(closest_match("log_everything", {"logits", "steps"}).empty());  // no shared first word
  REQUIRE(closest_match("max", {"max_steps"}) == "max_steps");  // prefix, not first word (no '_')
}
