// What a user sees when the input is wrong: every error is one line on stderr naming the flag,
// key or file, with exit code 2 for usage and config errors, and never a signal.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "core/json_depth.h"
#include "helpers.h"
#include "train/checkpoint.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;

namespace {

void check_usage_error(const CliResult& r, const std::vector<std::string>& pieces) {
  expect_one_line_error(r, 2, pieces);
}

}  // namespace

TEST_CASE("cli errors: --threads names the flag, the value and what it accepts", "[train][cli][cli_errors]") {
  for (const std::string bad : {"many", "-1", "0", "2.5", "99999", ""}) {
    INFO("--threads '" << bad << "'");
    check_usage_error(run_normlab({"--threads", bad, "version"}),
                      {"--threads", "'" + bad + "'", "from 1 to 1024", "error"});
    check_usage_error(run_normlab({"train", "--threads", bad, "x.json"}),
                      {"--threads", "'" + bad + "'", "from 1 to 1024"});
  }
  CHECK(run_normlab({"--threads", "1", "version"}).exit_code == 0);
}

TEST_CASE("cli errors: an unknown flag is one line and exit 2", "[train][cli][cli_errors]") {
  check_usage_error(run_normlab({"train", "--no-such-flag"}), {"--no-such-flag"});
  check_usage_error(run_normlab({"no-such-command"}), {"no-such-command"});
}

TEST_CASE("cli errors: a deeply nested config is a config error, not a crash", "[train][cli][cli_errors][json_depth]") {
  const fs::path dir = fresh_dir("deep_config");
  fs::create_directories(dir);
  const fs::path cfg = dir / "deep.json";
  std::ofstream(cfg) << "{\"model\": {\"hidden\": " << std::string(60000, '[') << std::string(60000, ']') << "}}";
  check_usage_error(run_normlab({"train", cfg.string(), "--out", (dir / "run").string()}),
                    {cfg.string(), "config nested too deeply (limit 128)"});
  check_usage_error(run_normlab({"config", "--check", cfg.string()}), {"nested too deeply"});
  std::ofstream(dir / "ok.json") << "{}";
  check_usage_error(run_normlab({"config", "--check", (dir / "ok.json").string(), "--set",
                                 "model.hidden=" + std::string(60000, '[')}),
                    {"model.hidden", "nested too deeply"});
  fs::remove_all(dir);
}

TEST_CASE("cli errors: checkpoint metadata nested too deeply is refused naming the file", "[train][json_depth]") {
  const fs::path dir = fresh_dir("deep_ckpt");
  fs::create_directories(dir);
  const fs::path path = dir / "checkpoint.safetensors";
  const std::string deep = std::string(60000, '[') + std::string(60000, ']');
  save_safetensors(path.string(), {{"w", Tensor::zeros({2})}},
                   {{"format", kCheckpointFormat}, {"format_version", std::to_string(kCheckpointVersion)},
                    {"step", "1"}, {"config", deep}, {"train_state", "{}"}});
  const std::string p = path.string();
  REQUIRE_THROWS_MENTIONING(load_checkpoint(p), p.c_str(), "'config' nested too deeply");
  fs::remove_all(dir);
}

TEST_CASE("cli errors: bench models --only names an unknown workload and the closest one",
          "[train][cli][cli_errors]") {
  check_usage_error(run_normlab({"bench", "models", "--only", "mlp,lm_lnn"}),
                    {"--only", "'lm_lnn'", "did you mean 'lm_ln'", "mlp_bn_b4"});
  check_usage_error(run_normlab({"bench", "models", "--memory", "--memory-steps", "50"}),
                    {"--memory-steps", "50"});
}
