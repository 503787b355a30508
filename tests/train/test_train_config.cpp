// Run configs: strict validation before training (unknown keys with a suggestion, wrong
// types, out-of-range values, malformed JSON with line/column), --set layering, the train
// section's rules, the CLI's exit code 2 with one line on stderr, and docs/config.md in sync.
#include "test_paths.h"
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "helpers.h"
#include "train/config_docs.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;

namespace {

fs::path write_config(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("normlab_cfg_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / name;
  std::ofstream(p) << text;
  return p;
}

json with(json cfg, const std::string& assignment) {
  apply_override(cfg, assignment);
  return cfg;
}

}  // namespace

TEST_CASE("train config errors name the key, the value and the range", "[train][config]") {
  register_test_models();
  const json base = tiny_config(10);
  REQUIRE_NOTHROW(build_experiment(base));
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "train.batchsize=8")),
                            "unknown key 'train.batchsize' — did you mean 'train.batch_size'?");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "sede=1")), "unknown key 'sede'", "'seed'");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "optim.betta1=0.8")), "'optim.beta1'");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "data.typ=adding")), "'data.type'");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "train.steps=ten")), "'train.steps'",
                            "expected an integer", "\"ten\"");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "train.batch_size=0")), "'train.batch_size'",
                            "value 0", "[1, 65536]");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "optim.lr=-1")), "'optim.lr'", "-1");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "train.bn_train_mode_eval=1")),
                            "'train.bn_train_mode_eval'", "true or false");
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "train=3")), "'train'", "expected an object");
  // Steps and epochs are exclusive; epochs set the step count from the loader.
  REQUIRE_THROWS_MENTIONING(build_experiment(with(base, "train.epochs=2")), "train.steps or train.epochs");
  json by_epochs = with(with(base, "train.epochs=2"), "train.steps=0");
  REQUIRE(build_experiment(by_epochs).total_steps == 2 * (256 / 16));
  // Every error is a ConfigError (the CLI's exit code 2).
  REQUIRE_THROWS_AS(build_experiment(with(base, "train.log_interval=0")), ConfigError);
}

TEST_CASE("train config layering: defaults < file < --set, malformed JSON with line and column",
          "[train][config]") {
  register_test_models();
  const fs::path p = write_config("layer.json", tiny_config(10).dump(2));
  const json cfg = load_config_with_overrides(p.string(), {"train.steps=7", "optim.lr=0.5", "optim.lr=0.25"});
  const Experiment ex = build_experiment(cfg);
  REQUIRE(ex.config["train"]["steps"] == 7);             // --set beats the file
  REQUIRE(ex.config["optim"]["lr"] == 0.25);             // the last --set wins
  REQUIRE(ex.config["train"]["batch_size"] == 16);       // the file beats the default
  REQUIRE(ex.config["train"]["checkpoint_interval"] == 0);  // default filled in
  REQUIRE(ex.total_steps == 7);
  const fs::path bad = write_config("bad.json", "{\n  \"seed\": 1,\n  \"train\": {\"steps\": 5,}\n}\n");
  REQUIRE_THROWS_MENTIONING(load_config_with_overrides(bad.string(), {}), "bad.json:3:", "malformed JSON");
  REQUIRE_THROWS_MENTIONING(load_config_with_overrides(bad.string() + ".missing", {}), "cannot open");
  fs::remove_all(p.parent_path());
}

TEST_CASE("train CLI: config errors exit 2 with one line on stderr", "[train][config][cli]") {
  const fs::path p = write_config("cli_bad.json", R"({"data": {"typ": "adding"}})");
  const fs::path err = p.parent_path() / "stderr.txt";
  const std::string cmd = std::string(NORMLAB_CLI_PATH) + " train " + p.string() + " --quiet --out " +
                          (p.parent_path() / "run").string() + " 2> " + err.string();
  const int status = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 2);
  const std::string text = read_text(err);
  INFO(text);
  REQUIRE(std::count(text.begin(), text.end(), '\n') == 1);
  REQUIRE(text.find("unknown key 'data.typ'") != std::string::npos);
  REQUIRE(text.find("did you mean 'data.type'?") != std::string::npos);
  REQUIRE(!fs::exists(p.parent_path() / "run" / "metrics.jsonl"));  // nothing trained
  // --check validates only, with the same errors.
  const std::string check = std::string(NORMLAB_CLI_PATH) + " config --check " + p.string() + " 2> " + err.string();
  const int s2 = std::system(check.c_str());
  REQUIRE(WEXITSTATUS(s2) == 2);
  // A missing config file is a config error too.
  const int s3 = std::system((std::string(NORMLAB_CLI_PATH) + " train /nonexistent.json 2> " + err.string()).c_str());
  REQUIRE(WEXITSTATUS(s3) == 2);
  fs::remove_all(p.parent_path());
}

TEST_CASE("train docs/config.md is the output of normlab config --markdown", "[train][config][docs]") {
  const std::string expected = config_reference_markdown();
  const std::string actual = read_text(fs::path(NORMLAB_SOURCE_DIR) / "docs" / "config.md");
  INFO("docs/config.md is stale: regenerate it with  build/bin/normlab config --markdown > docs/config.md");
  REQUIRE(actual == expected);
  // It documents keys of every section.
  for (const char* key : {"`seed`", "`train.batch_size`", "`train.eval_interval`", "`data.type`",
                          "`model.type`", "`optim.lr`"})
    REQUIRE(expected.find(key) != std::string::npos);
}
