// The grid size limit (lab/spec.h kMaxGridRuns): a spec whose axes multiply past the limit is a
// ConfigError naming the experiment and the run count before any run config is built (26 axes
// of two values once made `normlab sweep --dry-run` take gigabytes and minutes), and `normlab
// sweep` exits 2 with it; a grid at the limit's scale still expands.
#include "test_paths.h"
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "../cli_run.h"
#include "helpers.h"
#include "lab/spec.h"

using namespace nl;
using namespace nl::lab;

namespace {

json spec_with_axes(int axes, int values) {
  json s = json::parse(R"({"name": "big", "base": {}, "metrics": {"m": {"path": "test.mse"}}})");
  json grid = json::object();
  for (int a = 0; a < axes; ++a) {
    json v = json::array();
    for (int i = 0; i < values; ++i) v.push_back(i);
    grid["train.x" + std::to_string(a)] = v;
  }
  s["grid"] = grid;
  return s;
}

}  // namespace

TEST_CASE("a grid of more runs than the limit is refused before it is expanded", "[lab][spec][grid_limit]") {
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE_THROWS_MENTIONING(expand_grid(parse_experiment(spec_with_axes(26, 2), "big.json")), "'big'",
                            "67108864 runs", "limit of 100000");
  REQUIRE_THROWS_MENTIONING(expand_grid(parse_experiment(spec_with_axes(100, 10), "big.json")),
                            "more than 10^18 runs");
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  // Just over and at the limit: 317^2 = 100489 runs are refused, 10^5 runs expand.
  REQUIRE_THROWS_MENTIONING(expand_grid(parse_experiment(spec_with_axes(2, 317), "big.json")), "100489 runs");
  const std::vector<RunSpec> runs = expand_grid(parse_experiment(spec_with_axes(5, 10), "big.json"));
  CHECK(static_cast<int64_t>(runs.size()) == kMaxGridRuns);
}

TEST_CASE("normlab sweep refuses a grid over the limit with exit 2 and one line", "[lab][sweep][grid_limit]") {
  const std::filesystem::path spec =
      std::filesystem::temp_directory_path() / ("normlab_test_grid_limit_" + std::to_string(getpid()) + ".json");
  std::ofstream(spec) << spec_with_axes(26, 2).dump();
  const nl::test::CliResult r = nl::test::run_normlab({"sweep", spec.string(), "--dry-run"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.one_line().find("67108864 runs") != std::string::npos);
  std::filesystem::remove(spec);
}
