// The report of a sweep with a "ranks" axis (E6's shape): the per-cell table shows every
// metric of the spec, the cost metrics (ms and bytes per step, lower is better) included; a
// figure plots the primary metric against the rank count; claims select on ranks.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/config_reader.h"
#include "lab/figures.h"
#include "lab/report.h"
#include "lab/report_content.h"

using namespace nl;
using namespace nl::lab;
namespace fs = std::filesystem;

namespace {

// variant {bn, ln} x ranks {1, 8} x seed {0, 1, 2}. Accuracy: bn 0.80 on 1 rank and 0.70 on
// 8, ln 0.78 on both; ms per step 1 + 2 * ranks (+0.1 * seed); bytes per step 0 on one rank,
// 4000 on 8.
struct DataParallelSweep {
  fs::path dir;
  DataParallelSweep() {
    dir = fs::temp_directory_path() / ("normlab_test_report_ranks_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const json spec = json::parse(R"({
      "name": "dp", "title": "Data parallel",
      "base": {"train": {"batch_size": 32}},
      "variants": {"bn": {"set": {"model.norm.type": "batchnorm"}, "label": "BatchNorm"},
                   "ln": {"set": {"model.norm.type": "layernorm"}, "label": "LayerNorm"}},
      "grid": {"variant": ["bn", "ln"], "ranks": [1, 8], "seed": [0, 1, 2]},
      "metrics": {"test_acc": {"path": "test.accuracy", "label": "test accuracy"},
                  "ms_per_step": {"path": "timing.ms_per_step", "higher_is_better": false, "label": "ms per step"},
                  "comm_bytes_per_step": {"path": "comm.bytes_per_step", "higher_is_better": false, "label": "bytes per step"}},
      "claims": [{"id": "D.bn", "statement": "BN on 1 rank beats BN on 8", "better": {"variant": "bn", "ranks": 1},
                  "worse": {"variant": "bn", "ranks": 8}}]
    })");
    json runs = json::array();
    for (const std::string v : {"bn", "ln"})
      for (int ranks : {1, 8})
        for (int seed = 0; seed < 3; ++seed) {
          const std::string cell_id = v + ".ranks-" + std::to_string(ranks);
          const std::string id = cell_id + ".seed-" + std::to_string(seed);
          runs.push_back({{"id", id}, {"cell_id", cell_id}, {"cell", {{"variant", v}, {"ranks", ranks}}}, {"seed", seed},
                          {"dir", "dp/" + id}, {"status", "completed"}, {"exit_code", 0}, {"wall_s", 1.0}});
          const double acc = (v == "bn" ? (ranks == 1 ? 0.80 : 0.70) : 0.78) + 0.01 * (seed - 1);
          const json final_metrics = {{"test", {{"accuracy", acc}, {"loss", 1 - acc}}},
                                      {"timing", {{"ms_per_step", 1 + 2 * ranks + 0.1 * seed}}},
                                      {"comm", {{"bytes_per_step", ranks == 1 ? 0 : 4000}, {"ms_per_step", 0.5}}}};
          fs::create_directories(dir / "dp" / id);
          std::ofstream(dir / "dp" / id / "summary.json")
              << json({{"status", "completed"}, {"steps", 10}, {"ranks", ranks}, {"final", final_metrics}}).dump();
        }
    const json index = {{"format", 1}, {"profile", ""}, {"updated", "2026-01-01T00:00:00Z"},
                        {"experiments", json::array({{{"name", "dp"}, {"spec_file", "experiments/dp.json"},
                                                      {"profile", ""}, {"spec", spec}, {"runs", runs}}})}};
    std::ofstream(dir / "sweep.json") << index.dump(2);
  }
  ~DataParallelSweep() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

}  // namespace

TEST_CASE("report of a ranks sweep: every metric per cell, a figure over ranks, claims on ranks",
          "[lab][report][ranks]") {
  const DataParallelSweep sweep;
  const std::vector<ExperimentResults> results = load_results(sweep.dir.string());
  REQUIRE(results.size() == 1);
  const ExperimentResults& er = results[0];

  const DocTable t = cell_table(er, /*compact=*/false);
  CHECK(t.header == std::vector<std::string>{"variant", "ranks", "n", "diverged", "failed", "test accuracy ↑",
                                             "ms per step ↓", "bytes per step ↓"});
  REQUIRE(t.rows.size() == 4);
  CHECK(t.rows[1] == std::vector<std::string>{"BatchNorm", "8", "3", "0", "0", "0.7000 ± 0.0248", "17.1000 ± 0.2484",
                                              "4000.0 ± 0.0000"});
  CHECK(t.rows[2][6] == "3.1000 ± 0.2484");  // LayerNorm, 1 rank
  CHECK(t.rows[2][7] == "0.0000 ± 0.0000");

  bool found = false;
  for (const Plot& p : experiment_figures(er)) {
    if (p.name != "dp-ranks") continue;
    found = true;
    CHECK(p.logx2);
    CHECK(p.xlabel.find("ranks") != std::string::npos);
    REQUIRE(p.series.size() == 2);
    CHECK(p.series[0].title == "BatchNorm");
    REQUIRE(p.series[0].rows.size() == 2);
    CHECK(p.series[0].rows[0][0] == 1);
    CHECK(p.series[0].rows[1][0] == 8);
    CHECK(p.series[0].rows[1][1] == Approx(0.70));
  }
  CHECK(found);

  const std::vector<ClaimOutcome> claims = er.judge_claims();
  REQUIRE(claims.size() == 1);
  CHECK(claims[0].better_cell == "bn.ranks-1");
  CHECK(claims[0].worse_cell == "bn.ranks-8");
  CHECK(claims[0].verdict.verdict == Verdict::holds);

  // The written report carries the cost columns too.
  ReportOptions o;
  o.sweep_dir = sweep.dir.string();
  o.gnuplot = "";
  o.print_summary = false;
  const ReportResult r = write_report(o);
  std::ifstream in(r.markdown_path);
  std::stringstream md;
  md << in.rdbuf();
  CHECK(md.str().find("| variant | ranks | n | diverged | failed | test accuracy ↑ | ms per step ↓ | bytes per step ↓ |") !=
        std::string::npos);
}
