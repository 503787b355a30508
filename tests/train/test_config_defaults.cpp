// `normlab config --defaults MODEL` prints a config that trains as printed: for every model
// type, the printed config's data fits the model (flat images for the MLP, sequences of the
// right task for the others), it builds again from its own text and trains a few steps.
#include <filesystem>
#include <map>

#include "helpers.h"
#include "models/model.h"
#include "train/config_docs.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;

namespace {

struct Fit {
  TaskKind task;
  bool sequential;
};

// What each built-in model type is for (models/*.cpp).
const std::map<std::string, Fit> kFits = {
    {"mlp", {TaskKind::classification, false}},
    {"rnn_classifier", {TaskKind::classification, true}},
    {"rnn_regressor", {TaskKind::regression, true}},
    {"transformer_classifier", {TaskKind::classification, true}},
    {"transformer_lm", {TaskKind::language_model, true}},
};

// Shrinks whichever size keys the printed data section has, and the run to a few steps.
json tiny(json cfg) {
  for (const char* k : {"train_size", "val_size", "test_size"})
    if (cfg["data"].contains(k)) cfg["data"][k] = 64;
  cfg["train"]["steps"] = 3;
  cfg["train"]["epochs"] = 0;
  cfg["train"]["batch_size"] = 8;
  cfg["train"]["eval_batches"] = 1;
  return cfg;
}

}  // namespace

TEST_CASE("config defaults: every model type's printed config fits its data and trains", "[train][config_defaults]") {
  std::vector<std::string> types;
  for (const std::string& t : model_registry().names())
    if (t.rfind("test_", 0) != 0) types.push_back(t);
  REQUIRE(types.size() == kFits.size());
  for (const std::string& type : types) {
    INFO("model type " << type);
    REQUIRE(kFits.count(type));
    const json printed = json::parse(default_config(type).dump(2));  // as a user copies it
    Experiment ex = build_experiment(printed);
    CHECK(ex.config == printed);
    CHECK(ex.data->info.task == kFits.at(type).task);
    CHECK(ex.data->info.sequential == kFits.at(type).sequential);

    const fs::path dir = fresh_dir("defaults_" + type);
    Experiment small = build_experiment(tiny(printed));
    RunOptions opt;
    opt.out_dir = dir.string();
    opt.quiet = true;
    const RunResult r = train_experiment(small, opt);
    CHECK(r.status == RunStatus::completed);
    CHECK(r.step == 3);
    CHECK(std::isfinite(r.summary["final"]["test"]["loss"].get<double>()));
    fs::remove_all(dir);
  }
  // Without a model type: the default model's config, on its own data.
  CHECK(default_config()["model"]["type"] == "mlp");
  CHECK(default_config()["data"]["type"] == default_config("mlp")["data"]["type"]);
}
