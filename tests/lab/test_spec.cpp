// Experiment specs: grid expansion (order, count, ids, seeds), variants and override
// precedence, profiles, a base given as a file, and one ConfigError per kind of bad input,
// each naming the offending key or value.
#include "test_paths.h"
#include <filesystem>
#include <fstream>
#include <set>
#include <unistd.h>

#include "helpers.h"
#include "lab/spec.h"

using namespace nl;
using namespace nl::lab;

namespace {

// A valid spec the bad-input cases each break in one place.
json good_spec() {
  return json::parse(R"({
    "name": "e1_batch",
    "title": "Batch size", "question": "Does BN need a large batch?",
    "base": {"seed": 7, "model": {"type": "mlp", "hidden": [32], "norm": {"type": "none"}},
             "optim": {"type": "adam", "lr": 0.01}, "train": {"steps": 100, "batch_size": 64}},
    "set": {"train.steps": 50, "optim.lr": 0.001},
    "variants": {
      "none": {"set": {"model.norm.type": "none"}},
      "bn": {"set": {"model.norm.type": "batchnorm", "train.steps": 60}, "label": "BatchNorm"},
      "ln": {"set": {"model.norm.type": "layernorm"}, "label": "LayerNorm"}
    },
    "grid": {"variant": ["bn", "ln"], "train.batch_size": [128, 2], "seed": [0, 1, 2]},
    "metrics": {"test_acc": {"path": "test.accuracy", "label": "test accuracy", "diverged_value": 0.1},
                "val_loss": {"path": "val.loss", "higher_is_better": false}},
    "primary_metric": "test_acc",
    "claims": [{"id": "E1.b2", "statement": "At batch 2 LN beats BN",
                "better": {"variant": "ln", "train.batch_size": 2},
                "worse": {"variant": "bn", "train.batch_size": 2},
                "source": "LN paper 6.6"},
               {"id": "E1.b128", "statement": "At batch 128 BN is not worse than LN",
                "better": {"variant": "bn", "train.batch_size": 128},
                "worse": {"variant": "ln", "train.batch_size": 128},
                "metric": "val_loss", "kind": "not_worse", "margin": 0.02}],
    "profiles": {"quick": {"set": {"train.steps": 10}, "grid": {"seed": [0, 1]}}}
  })");
}

// Applies `edit` to the good spec and expects a ConfigError mentioning every piece.
template <typename Edit>
void expect_error(Edit edit, std::initializer_list<const char*> pieces) {
  json j = good_spec();
  edit(j);
  bool threw = false;
  try {
    (void)parse_experiment(j, "exp.json");
  } catch (const ConfigError& e) {
    threw = true;
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(msg.rfind("exp.json: ", 0) == 0);
    CHECK(msg.find('\n') == std::string::npos);
    for (const char* p : pieces) {
      INFO("expected to contain: " << p);
      CHECK(msg.find(p) != std::string::npos);
    }
  }
  INFO("expected a ConfigError mentioning " << *pieces.begin());
  CHECK(threw);
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("normlab_test_spec_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    const auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};

}  // namespace

TEST_CASE("spec parses names, variants, metrics and claims", "[lab][spec]") {
  const ExperimentSpec s = parse_experiment(good_spec(), "exp.json");
  CHECK(s.name == "e1_batch");
  CHECK(s.question == "Does BN need a large batch?");
  REQUIRE(s.variants.size() == 3);
  REQUIRE(s.find_variant("bn") != nullptr);
  CHECK(s.find_variant("bn")->label == "BatchNorm");
  CHECK(s.find_variant("none")->label == "none");  // label defaults to the name
  CHECK(s.find_variant("gn") == nullptr);
  REQUIRE(s.grid.size() == 3);
  CHECK(s.grid[0].key == "variant");  // file order kept
  CHECK(s.grid[2].key == "seed");
  CHECK(s.metric("test_acc").path == "test.accuracy");
  CHECK(s.metric("test_acc").diverged_value == 0.1);
  CHECK(s.metric("val_loss").label == "val.loss");  // label defaults to the path
  CHECK_FALSE(s.metric("val_loss").higher_is_better);
  REQUIRE_THROWS_MENTIONING(s.metric("test_accuracy"), "test_accuracy");
  REQUIRE(s.claims.size() == 2);
  CHECK(s.claims[0].metric == "test_acc");  // defaults to primary_metric
  CHECK(s.claims[0].kind == Claim::Kind::beats);
  CHECK(s.claims[0].source == "LN paper 6.6");
  CHECK(s.claims[1].kind == Claim::Kind::not_worse);
  CHECK(s.claims[1].margin == 0.02);
  CHECK(s.claims[1].test == Claim::Test::welch);  // the default
  CHECK(s.raw == good_spec());
}

TEST_CASE("grid expands in file order with the last axis fastest", "[lab][spec]") {
  const std::vector<RunSpec> runs = expand_grid(parse_experiment(good_spec(), "exp.json"));
  REQUIRE(runs.size() == 2 * 2 * 3);
  std::vector<std::string> ids;
  for (const RunSpec& r : runs) ids.push_back(r.id);
  CHECK(ids == std::vector<std::string>{
                   "bn.batch_size-128.seed-0", "bn.batch_size-128.seed-1", "bn.batch_size-128.seed-2",
                   "bn.batch_size-2.seed-0",   "bn.batch_size-2.seed-1",   "bn.batch_size-2.seed-2",
                   "ln.batch_size-128.seed-0", "ln.batch_size-128.seed-1", "ln.batch_size-128.seed-2",
                   "ln.batch_size-2.seed-0",   "ln.batch_size-2.seed-1",   "ln.batch_size-2.seed-2"});
  const RunSpec& r = runs[4];
  CHECK(r.cell_id == "bn.batch_size-2");
  CHECK(r.seed == 1);
  CHECK(r.cell == json::parse(R"({"variant": "bn", "train.batch_size": 2})"));
  CHECK(r.config["seed"] == 1);
  // Same input, same ids and configs (the sweep resumes by id).
  const std::vector<RunSpec> again = expand_grid(parse_experiment(good_spec(), "exp.json"));
  for (size_t i = 0; i < runs.size(); ++i) {
    CHECK(again[i].id == runs[i].id);
    CHECK(again[i].config == runs[i].config);
  }
}

TEST_CASE("run configs apply base, set, variant and axes in that order", "[lab][spec]") {
  const std::vector<RunSpec> runs = expand_grid(parse_experiment(good_spec(), "exp.json"));
  const json& bn = runs[3].config;  // bn, batch 2, seed 0
  CHECK(bn["model"]["norm"]["type"] == "batchnorm");  // variant set
  CHECK(bn["train"]["steps"] == 60);                   // variant set beats spec set (50)
  CHECK(bn["optim"]["lr"] == 0.001);                   // spec set beats base (0.01)
  CHECK(bn["optim"]["type"] == "adam");                // base kept
  CHECK(bn["train"]["batch_size"] == 2);               // axis beats base (64)
  CHECK(bn["model"]["hidden"] == json::array({32}));
  const json& ln = runs[6].config;
  CHECK(ln["model"]["norm"]["type"] == "layernorm");
  CHECK(ln["train"]["steps"] == 50);                   // no variant override: spec set
  CHECK(ln["train"]["batch_size"] == 128);
}

TEST_CASE("a grid without a seed axis uses the base seed", "[lab][spec]") {
  json j = good_spec();
  j["grid"].erase("seed");
  j.erase("profiles");  // its grid names the seed axis
  const std::vector<RunSpec> runs = expand_grid(parse_experiment(j, "exp.json"));
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].seed == 7);
  CHECK(runs[0].id == "bn.batch_size-128");
  CHECK(runs[0].cell_id == runs[0].id);
  j["base"].erase("seed");
  CHECK(expand_grid(parse_experiment(j, "exp.json"))[0].seed == 0);
  j["set"]["seed"] = 3;
  CHECK(expand_grid(parse_experiment(j, "exp.json"))[0].seed == 3);
}

TEST_CASE("run ids sanitise values and disambiguate axes sharing a last segment", "[lab][spec]") {
  json j = good_spec();
  j["claims"] = json::array();
  j["grid"] = json::parse(R"({"optim.lr": [0.001, 1e-05], "model.hidden": [[64], [64, 32]],
                              "model.norm.type": ["post ln/x"], "model.norm.affine": [true],
                              "data.seed": [4], "seed": [0]})");
  const std::vector<RunSpec> runs = expand_grid(parse_experiment(j, "exp.json"));
  REQUIRE(runs.size() == 4);
  CHECK(runs[0].id == "lr-0.001.hidden-64.type-post_ln_x.affine-true.data_seed-4.seed-0");
  CHECK(runs[1].id == "lr-0.001.hidden-64x32.type-post_ln_x.affine-true.data_seed-4.seed-0");
  CHECK(runs[2].id == "lr-1e-05.hidden-64.type-post_ln_x.affine-true.data_seed-4.seed-0");
  CHECK(runs[2].cell_id == "lr-1e-05.hidden-64.type-post_ln_x.affine-true.data_seed-4");
  // Array values stay arrays in the config; "data.seed" is an ordinary key, "seed" the run's.
  CHECK(runs[1].config["model"]["hidden"] == json::array({64, 32}));
  CHECK(runs[0].config["data"]["seed"] == 4);
  CHECK(runs[0].config["seed"] == 0);
  for (const RunSpec& r : runs)
    for (char c : r.id) CHECK((std::isalnum(static_cast<unsigned char>(c)) || std::string("_.+-").find(c) != std::string::npos));
}

TEST_CASE("run ids that would collide after sanitising are rejected", "[lab][spec]") {
  json j = good_spec();
  j["claims"] = json::array();
  j.erase("profiles");
  j["grid"] = json::parse(R"({"model.norm.type": ["a b", "a/b"]})");
  REQUIRE_THROWS_MENTIONING(expand_grid(parse_experiment(j, "exp.json")), "type-a_b");
}

TEST_CASE("matches selects cells by the listed axes", "[lab][spec]") {
  const json cell = json::parse(R"({"variant": "ln", "train.batch_size": 2, "optim.lr": 0.001})");
  CHECK(matches({}, cell));
  CHECK(matches({{"variant", "ln"}}, cell));
  CHECK(matches({{"variant", "ln"}, {"train.batch_size", 2}}, cell));
  CHECK(matches({{"optim.lr", 1e-3}}, cell));
  CHECK(matches({{"train.batch_size", 2.0}}, cell));  // a JSON number, however written
  CHECK_FALSE(matches({{"variant", "bn"}}, cell));
  CHECK_FALSE(matches({{"seed", 0}}, cell));
}

TEST_CASE("apply_dotted creates objects and keeps JSON values", "[lab][spec]") {
  json c = json::parse(R"({"model": {"type": "mlp"}, "lr": 1})");
  apply_dotted(c, json::parse(R"({"model.norm.type": "layernorm", "model.hidden": [64], "lr": 0.5})"));
  CHECK(c["model"]["type"] == "mlp");
  CHECK(c["model"]["norm"]["type"] == "layernorm");
  CHECK(c["model"]["hidden"] == json::array({64}));
  CHECK(c["lr"] == 0.5);
  REQUIRE_THROWS_MENTIONING(apply_dotted(c, json::parse(R"({"lr.x": 1})")), "lr.x");
  REQUIRE_THROWS_AS(apply_dotted(c, json::parse(R"({"a..b": 1})")), ConfigError);
}

TEST_CASE("profiles replace axis values and add overrides", "[lab][spec]") {
  const ExperimentSpec s = parse_experiment(good_spec(), "exp.json");
  CHECK(apply_profile(s, "").grid[2].values.size() == 3);
  CHECK(apply_profile(s, "full").grid[2].values.size() == 3);
  const ExperimentSpec q = apply_profile(s, "quick");
  REQUIRE(q.grid[2].key == "seed");
  CHECK(q.grid[2].values == std::vector<json>{0, 1});
  CHECK(q.grid[1].values.size() == 2);  // other axes unchanged
  const std::vector<RunSpec> runs = expand_grid(q);
  CHECK(runs.size() == 8);
  CHECK(runs[2].config["train"]["steps"] == 60);  // bn's variant set still beats the profile
  CHECK(runs[4].config["train"]["steps"] == 10);  // ln: the profile's set beats the spec's
  REQUIRE_THROWS_MENTIONING(apply_profile(s, "quik"), "quik", "quick", "full");
}

TEST_CASE("a profile that drops a value a claim needs is rejected", "[lab][spec]") {
  json j = good_spec();
  j["profiles"]["tiny"] = json::parse(R"({"grid": {"train.batch_size": [128]}})");
  // The claims at batch 2 would have nothing to compare.
  bool threw = false;
  try {
    (void)parse_experiment(j, "exp.json");
  } catch (const ConfigError& e) {
    threw = true;
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("tiny") != std::string::npos);
    CHECK(msg.find("train.batch_size") != std::string::npos);
  }
  CHECK(threw);
}

TEST_CASE("spec_to_json round-trips the spec as run", "[lab][spec]") {
  json spec = good_spec();
  spec["claims"][0]["test"] = "paired";
  const ExperimentSpec q = apply_profile(parse_experiment(spec, "exp.json"), "quick");
  const json j = spec_to_json(q);
  CHECK_FALSE(j.contains("profiles"));
  const ExperimentSpec back = parse_experiment(j, "as_run.json");
  const std::vector<RunSpec> a = expand_grid(q), b = expand_grid(back);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].id == b[i].id);
    CHECK(a[i].config == b[i].config);
  }
  CHECK(back.claims.size() == q.claims.size());
  CHECK(back.claims[1].margin == q.claims[1].margin);
  CHECK(back.claims[0].test == Claim::Test::paired);
  CHECK(back.claims[1].test == Claim::Test::welch);
  CHECK(back.primary_metric == q.primary_metric);
}

TEST_CASE("a base given as a file path is read relative to the spec file", "[lab][spec]") {
  TempDir dir;
  dir.write("configs/base.json", R"({"seed": 5, "model": {"type": "mlp"}, "train": {"steps": 9}})");
  json j = good_spec();
  j["base"] = "../configs/base.json";
  j.erase("set");
  const std::string spec_path = dir.write("experiments/e.json", j.dump(2));
  const ExperimentSpec s = load_experiment(spec_path);
  CHECK(s.spec_file == spec_path);
  CHECK(s.base["seed"] == 5);
  CHECK(s.raw["base"] == "../configs/base.json");
  CHECK(expand_grid(s)[0].config["model"]["type"] == "mlp");
  CHECK(expand_grid(s)[6].config["train"]["steps"] == 9);

  j["base"] = "../configs/missing.json";
  const std::string bad = dir.write("experiments/bad.json", j.dump(2));
  REQUIRE_THROWS_MENTIONING(load_experiment(bad), "bad.json", "missing.json");
  REQUIRE_THROWS_MENTIONING(load_experiment((dir.path / "nope.json").string()), "nope.json");
  const std::string broken = dir.write("experiments/broken.json", "{\"name\": ");
  REQUIRE_THROWS_MENTIONING(load_experiment(broken), "broken.json");
}

TEST_CASE("unknown keys at every level are rejected with a suggestion", "[lab][spec]") {
  expect_error([](json& j) { j["claim"] = json::array(); }, {"unknown key 'claim'", "did you mean 'claims'"});
  expect_error([](json& j) { j["variants"]["ln"]["labl"] = "x"; }, {"'labl'", "variants.ln", "'label'"});
  expect_error([](json& j) { j["metrics"]["test_acc"]["higher_is_beter"] = true; },
               {"'higher_is_beter'", "metrics.test_acc", "higher_is_better"});
  expect_error([](json& j) { j["claims"][0]["sorce"] = "x"; }, {"unknown key 'sorce' in claims.0", "'source'"});
  expect_error([](json& j) { j["claims"][0]["tune"] = {{"axes", {"seed"}}, {"by", "val_loss"}, {"bye", 1}}; },
               {"'bye'", "claims.0.tune"});
  expect_error([](json& j) { j["profiles"]["quick"]["grids"] = json::object(); }, {"'grids'", "profiles.quick"});
}

TEST_CASE("names, base and grid are validated", "[lab][spec]") {
  expect_error([](json& j) { j.erase("name"); }, {"missing 'name'"});
  expect_error([](json& j) { j["name"] = "E1-batch"; }, {"E1-batch", "[a-z0-9_]+"});
  expect_error([](json& j) { j["base"] = 3; }, {"'base'"});
  expect_error([](json& j) { j.erase("base"); }, {"missing 'base'"});
  expect_error([](json& j) { j["grid"] = json::object(); }, {"'grid' is empty"});
  expect_error([](json& j) { j.erase("grid"); }, {"missing 'grid'"});
  expect_error([](json& j) { j["grid"]["train.batch_size"] = json::array(); }, {"train.batch_size", "no values"});
  expect_error([](json& j) { j["grid"]["train.batch_size"] = 4; }, {"train.batch_size", "array"});
  expect_error([](json& j) { j["grid"]["variant"] = {"bn", "gn"}; }, {"unknown variant 'gn'"});
  expect_error([](json& j) { j["grid"]["variant"] = {"bn", "bn_masked"}; }, {"bn_masked", "did you mean 'bn'"});
  expect_error([](json& j) { j.erase("variants"); }, {"unknown variant 'bn'", "no \"variants\""});
  expect_error([](json& j) { j["grid"]["seed"] = {0, -1}; }, {"seed", "-1"});
  expect_error([](json& j) { j["grid"]["seed"] = {0, 0}; }, {"seed", "twice"});
  expect_error([](json& j) { j["grid"]["model.norm"] = {json::object()}; }, {"model.norm", "model.norm.type"});
  expect_error([](json& j) { j["variants"]["bad.name"] = json::object(); }, {"bad.name"});
  expect_error([](json& j) { j["set"] = {{"train..steps", 1}}; }, {"train..steps"});
}

TEST_CASE("variants without a variant axis are fine, conflicting variant keys are not", "[lab][spec]") {
  json j = good_spec();
  j["grid"].erase("variant");
  j["claims"] = json::array();
  CHECK(expand_grid(parse_experiment(j, "exp.json")).size() == 6);
  expect_error([](json& j2) { j2["variants"]["ln"]["set"]["train.batch_size"] = 4; },
               {"variant 'ln'", "train.batch_size"});
  expect_error([](json& j2) { j2["variants"]["ln"]["set"]["train"] = json::object(); }, {"variant 'ln'", "'train'"});
  expect_error([](json& j2) { j2["variants"]["ln"]["set"]["seed"] = 1; }, {"variant 'ln'", "seed"});
}

TEST_CASE("claims must name existing variants, axes, values and metrics", "[lab][spec]") {
  expect_error([](json& j) { j["claims"][0]["better"]["variant"] = "gn"; }, {"claims.0.better", "unknown variant", "gn"});
  expect_error([](json& j) { j["claims"][0]["worse"]["variant"] = "none"; }, {"claims.0.worse", "\"none\"", "'variant'"});
  expect_error([](json& j) { j["claims"][0]["better"]["optim.lr"] = 0.1; }, {"claims.0.better", "optim.lr", "not in the grid"});
  expect_error([](json& j) { j["claims"][0]["better"]["train.batch_size"] = 4; }, {"claims.0.better", "4", "train.batch_size"});
  expect_error([](json& j) { j["claims"][0]["better"]["seed"] = 0; }, {"claims.0.better", "seed"});
  expect_error([](json& j) { j["claims"][0]["better"].erase("train.batch_size"); }, {"claims.0.better", "does not pin", "train.batch_size"});
  expect_error([](json& j) { j["claims"][0]["worse"] = j["claims"][0]["better"]; }, {"claims.0", "same cell"});
  expect_error([](json& j) { j["claims"][0]["metric"] = "test_accuracy"; }, {"claims.0.metric", "test_accuracy", "test_acc"});
  expect_error([](json& j) { j["primary_metric"] = "acc"; }, {"primary_metric", "'acc'"});
  expect_error([](json& j) { j["claims"][1]["kind"] = "matches"; }, {"claims.1.kind", "matches"});
  expect_error([](json& j) { j["claims"][1]["test"] = "pairs"; }, {"claims.1.test", "'pairs'", "welch or paired"});
  expect_error([](json& j) { j["claims"][1]["test"] = true; }, {"claims.1.test"});
  expect_error([](json& j) { j["claims"][1]["margin"] = -0.1; }, {"claims.1.margin", ">= 0"});
  expect_error([](json& j) { j["claims"][0]["margin"] = 0.1; }, {"claims.0.margin", "not_worse"});
  expect_error([](json& j) { j["claims"][1]["id"] = "E1.b2"; }, {"E1.b2", "twice"});
  expect_error([](json& j) { j["claims"][0].erase("better"); }, {"missing 'better'", "claims.0"});
  expect_error([](json& j) { j["metrics"] = json::object(); }, {"'metrics' is empty"});
  expect_error([](json& j) { j["metrics"]["test_acc"].erase("path"); }, {"missing 'path'", "metrics.test_acc"});
}

TEST_CASE("tune axes must be grid axes apart from the selector, tuned by a metric", "[lab][spec]") {
  json j = good_spec();
  j["grid"]["optim.lr"] = {0.001, 0.01};
  j["claims"][0]["tune"] = {{"axes", {"optim.lr"}}, {"by", "val_loss"}};
  j["claims"][1]["tune"] = {{"axes", {"optim.lr"}}, {"by", "val_loss"}};
  const ExperimentSpec s = parse_experiment(j, "exp.json");
  CHECK(s.claims[0].tune_axes == std::vector<std::string>{"optim.lr"});
  CHECK(s.claims[0].tune_by == "val_loss");
  const auto with_lr = [](json& x) {
    x["grid"]["optim.lr"] = {0.001, 0.01};
    x["claims"][1]["tune"] = {{"axes", {"optim.lr"}}, {"by", "val_loss"}};
  };
  expect_error([&](json& x) { with_lr(x); x["claims"][0]["tune"] = {{"axes", {"optim.momentum"}}, {"by", "val_loss"}}; },
               {"claims.0", "optim.momentum", "not in the grid"});
  expect_error([&](json& x) { with_lr(x); x["claims"][0]["tune"] = {{"axes", {"train.batch_size", "optim.lr"}}, {"by", "val_loss"}}; },
               {"claims.0.tune.axes", "train.batch_size", "selector"});
  expect_error([&](json& x) { with_lr(x); x["claims"][0]["tune"] = {{"axes", {"optim.lr"}}, {"by", "val_acc"}}; },
               {"claims.0.tune.by", "val_acc"});
  expect_error([&](json& x) { with_lr(x); x["claims"][0]["tune"] = {{"axes", {"optim.lr"}}}; },
               {"missing 'by'", "claims.0.tune"});
  // Without tuning, an lr axis with two values leaves the claim ambiguous.
  expect_error([&](json& x) { with_lr(x); }, {"claims.0.better", "does not pin", "optim.lr"});
}

TEST_CASE("profiles must name existing axes and valid values", "[lab][spec]") {
  expect_error([](json& j) { j["profiles"]["quick"]["grid"] = {{"train.batchsize", {2}}}; },
               {"profiles.quick.grid", "train.batchsize", "did you mean 'train.batch_size'"});
  expect_error([](json& j) { j["profiles"]["quick"]["grid"] = {{"variant", {"gn"}}}; }, {"profiles.quick.grid", "gn"});
  expect_error([](json& j) { j["profiles"]["quick"]["grid"] = {{"seed", json::array()}}; }, {"seed", "no values"});
  expect_error([](json& j) { j["profiles"]["full"] = json::object(); }, {"'full'", "reserved"});
}

TEST_CASE("a ranks axis is a launch parameter: in ids and cells, not in the config", "[lab][spec][ranks]") {
  json j = good_spec();
  j["grid"] = json::parse(R"({"variant": ["bn", "ln"], "ranks": [1, 2, 8], "seed": [0, 1]})");
  j["claims"] = json::parse(R"([{"id": "R.bn", "statement": "BN on 1 rank beats BN on 8",
                                 "better": {"variant": "bn", "ranks": 1}, "worse": {"variant": "bn", "ranks": 8}}])");
  j["profiles"] = json::parse(R"({"quick": {"grid": {"ranks": [1, 8], "seed": [0]}}})");
  const ExperimentSpec s = parse_experiment(j, "exp.json");
  const std::vector<RunSpec> runs = expand_grid(s);
  REQUIRE(runs.size() == 2 * 3 * 2);
  CHECK(runs[0].id == "bn.ranks-1.seed-0");
  CHECK(runs[0].ranks == 1);
  const RunSpec& r = runs[3];  // bn, 2 ranks, seed 1
  CHECK(r.id == "bn.ranks-2.seed-1");
  CHECK(r.cell_id == "bn.ranks-2");
  CHECK(r.cell == json::parse(R"({"variant": "bn", "ranks": 2})"));
  CHECK(r.ranks == 2);
  CHECK(runs[5].ranks == 8);
  // The run's config is the one the same cell gets on one rank: no "ranks" key anywhere.
  CHECK(r.config == runs[1].config);  // bn, 1 rank, seed 1
  CHECK_FALSE(r.config.contains("ranks"));
  CHECK(matches(s.claims[0].worse, runs[5].cell));
  CHECK_FALSE(matches(s.claims[0].worse, r.cell));
  // Without a ranks axis every run has one rank; profiles replace its values like any axis.
  for (const RunSpec& x : expand_grid(parse_experiment(good_spec(), "exp.json"))) CHECK(x.ranks == 1);
  std::vector<int> quick;
  for (const RunSpec& x : expand_grid(apply_profile(s, "quick"))) quick.push_back(x.ranks);
  CHECK(quick == std::vector<int>{1, 8, 1, 8});
}

TEST_CASE("bad ranks values are rejected naming the ranks axis", "[lab][spec][ranks]") {
  expect_error([](json& j) { j["grid"]["ranks"] = {1, 0}; }, {"grid axis 'ranks'", "got 0"});
  expect_error([](json& j) { j["grid"]["ranks"] = {-2}; }, {"grid axis 'ranks'", "got -2"});
  expect_error([](json& j) { j["grid"]["ranks"] = {1.5}; }, {"grid axis 'ranks'", "got 1.5"});
  expect_error([](json& j) { j["grid"]["ranks"] = {"2"}; }, {"grid axis 'ranks'", "\"2\""});
  expect_error([](json& j) { j["grid"]["ranks"] = {100000}; }, {"grid axis 'ranks'", "100000"});
  expect_error([](json& j) { j["grid"]["ranks"] = {2, 2}; }, {"grid axis 'ranks'", "twice"});
  expect_error([](json& j) { j["grid"]["ranks"] = 4; }, {"grid axis 'ranks'", "array"});
  expect_error([](json& j) { j["profiles"]["quick"]["grid"]["ranks"] = {0}; }, {"ranks", "got 0"});
  expect_error(
      [](json& j) {
        j["grid"]["ranks"] = {1, 2};
        j["claims"][0]["better"]["ranks"] = 4;
      },
      {"claims.0.better", "4", "'ranks'"});
}

TEST_CASE("E6 (experiments/e6_data_parallel.json) splits a batch of 32 over 1 to 8 ranks", "[lab][spec][ranks]") {
  const ExperimentSpec s = load_experiment(NORMLAB_SOURCE_DIR + "/experiments/e6_data_parallel.json");
  const std::vector<RunSpec> runs = expand_grid(s);
  REQUIRE(runs.size() == 4 * 4 * 3);
  std::set<std::string> cells;
  std::set<int> ranks;
  for (const RunSpec& r : runs) {
    cells.insert(r.cell_id);
    ranks.insert(r.ranks);
    CHECK(r.config["train"]["batch_size"] == 32);  // the global batch, whatever the rank count
    CHECK_FALSE(r.config.contains("ranks"));
  }
  CHECK(cells.size() == 16);
  CHECK(ranks == std::set<int>{1, 2, 4, 8});
  CHECK(runs[0].id == "bn.ranks-1.seed-0");
  const RunSpec& sync8 = runs[1 * 12 + 3 * 3];  // syncbn, 8 ranks, seed 0
  CHECK(sync8.id == "syncbn.ranks-8.seed-0");
  CHECK(sync8.config["model"]["norm"]["type"] == "batchnorm");
  CHECK(sync8.config["model"]["batchnorm_sync"] == true);
  CHECK(runs[3 * 3].config["model"]["batchnorm_sync"] == false);  // bn, 8 ranks: per-rank statistics
  CHECK(runs[3 * 3].config == runs[0].config);                      // same config as on 1 rank
  for (const char* m : {"test_acc", "val_acc", "ms_per_step", "comm_bytes_per_step", "comm_ms_per_step"})
    CHECK(s.metrics.count(m) == 1);
  CHECK_FALSE(s.metric("comm_bytes_per_step").higher_is_better);
  REQUIRE(s.claims.size() == 4);
  for (const Claim& c : s.claims) {
    CHECK_FALSE(c.source.empty());
    CHECK((c.better.at("ranks") == 8 || c.worse.at("ranks") == 8));
  }
  CHECK(expand_grid(apply_profile(s, "quick")).size() == 3 * 2 * 2);
}
