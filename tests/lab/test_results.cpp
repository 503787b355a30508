// Reading a sweep folder back (lab/results.h) and judging its claims, on the synthetic sweep
// of tests/lab/sweep_fixture.h whose verdicts are known in advance.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.h"
#include "lab/results.h"
#include "lab/sweep_fixture.h"

using namespace nl;
using namespace nl::lab;

namespace {

const CellResult& cell(const ExperimentResults& er, const std::string& id) {
  for (const CellResult& c : er.cells)
    if (c.cell_id == id) return c;
  FAIL("no cell " << id);
  throw;
}

const ClaimOutcome& outcome(const std::vector<ClaimOutcome>& cs, const std::string& id) {
  for (const ClaimOutcome& c : cs)
    if (c.claim.id == id) return c;
  FAIL("no claim " << id);
  throw;
}

// The synthetic sweep judged on other claims: `claims` replaces the spec's in its sweep.json.
std::vector<ClaimOutcome> judge_with_claims(const test::SyntheticSweep& sweep, const json& claims) {
  json spec = test::SyntheticSweep::spec();
  spec["claims"] = claims;
  json index = json::parse(std::ifstream(sweep.dir / "sweep.json"));
  index["experiments"][0]["spec"] = spec;
  std::ofstream(sweep.dir / "sweep.json") << index.dump();
  return load_results(sweep.dir.string())[0].judge_claims();
}

}  // namespace

TEST_CASE("metric_at follows dotted paths into objects and arrays", "[lab][results]") {
  const json f = json::parse(R"({"test": {"accuracy": 0.9, "by_length": [{"accuracy": 0.5}, {"accuracy": 0.7}]},
                                 "val": {"note": "x", "batch_stats": {"loss": 1.5}}})");
  CHECK(metric_at(f, "test.accuracy") == Approx(0.9));
  CHECK(metric_at(f, "test.by_length.1.accuracy") == Approx(0.7));
  CHECK(metric_at(f, "val.batch_stats.loss") == Approx(1.5));
  CHECK_FALSE(metric_at(f, "test.by_length.2.accuracy"));
  CHECK_FALSE(metric_at(f, "test.by_length.x.accuracy"));
  CHECK_FALSE(metric_at(f, "val.note"));
  CHECK_FALSE(metric_at(f, "test"));
  CHECK_FALSE(metric_at(f, "missing.accuracy"));
  CHECK_FALSE(metric_at(json(nullptr), "test.accuracy"));
}

TEST_CASE("load_results reads runs, statuses, curves and cells of a sweep folder", "[lab][results]") {
  test::SyntheticSweep sweep("results_load");
  const std::vector<ExperimentResults> all = load_results(sweep.dir.string());
  REQUIRE(all.size() == 1);
  const ExperimentResults& er = all[0];
  CHECK(er.spec.name == "synth");
  CHECK(er.profile == "quick");
  CHECK(er.spec.spec_file == "experiments/synth.json");
  REQUIRE(er.runs.size() == 36);
  REQUIRE(er.cells.size() == 12);
  // Cells in grid order, each with its 3 runs.
  CHECK(er.cells[0].cell_id == "ln.batch_size-2.lr-0.01");
  CHECK(er.cells[11].cell_id == "none.batch_size-8.lr-0.1");
  for (const CellResult& c : er.cells) CHECK(c.runs.size() == 3);

  const CellResult& div = cell(er, "none.batch_size-2.lr-0.1");
  CHECK(div.diverged == 1);
  CHECK(div.failed == 0);
  CHECK(div.runs[0]->status == "diverged");
  CHECK(div.runs[0]->final_metrics.is_null());
  REQUIRE(div.runs[0]->train_curve.size() == 2);  // ended early, at step 20
  CHECK(div.runs[0]->train_curve.back().step == 20);

  const CellResult& failed = cell(er, "none.batch_size-8.lr-0.1");
  CHECK(failed.failed == 1);
  CHECK(failed.runs[2]->train_curve.empty());

  // The summary's "completed" wins over an index that still says pending.
  const CellResult& stale = cell(er, "ln.batch_size-8.lr-0.1");
  CHECK(stale.pending == 0);
  CHECK(stale.runs[2]->status == "completed");

  const RunResultRecord& r = *er.cells[0].runs[1];
  CHECK(r.seed == 1);
  CHECK(r.cell["variant"] == "ln");
  CHECK(r.wall_s == Approx(2.0));
  REQUIRE(r.train_curve.size() == 5);  // val records are not part of the train curve
  CHECK(r.train_curve[0].step == 10);
  CHECK(r.train_curve[0].loss == Approx(0.2 + 0.01));
  CHECK(r.train_curve[0].wall_s == Approx(1.01));
  CHECK(*metric_at(r.final_metrics, "test.accuracy") == Approx(0.85));
}

TEST_CASE("cell values count diverged runs only when the metric has a diverged_value", "[lab][results]") {
  test::SyntheticSweep sweep("results_values");
  const ExperimentResults er = load_results(sweep.dir.string())[0];  // a copy: pointers re-pointed
  const CellResult& div = cell(er, "none.batch_size-2.lr-0.1");
  const std::vector<double> acc = er.values(div, er.spec.metric("test_acc"));
  REQUIRE(acc.size() == 3);
  CHECK(acc[0] == Approx(0.1));  // the diverged run, at diverged_value
  CHECK(acc[1] == Approx(0.50));
  CHECK(acc[2] == Approx(0.52));
  const std::vector<double> loss = er.values(div, er.spec.metric("test_loss"));
  REQUIRE(loss.size() == 2);  // no diverged_value: left out
  CHECK(loss[0] == Approx(0.50));

  // A failed run has no value for any metric.
  CHECK(er.values(cell(er, "none.batch_size-8.lr-0.1"), er.spec.metric("test_acc")).size() == 2);

  const CellStats s = describe(er.values(cell(er, "ln.batch_size-2.lr-0.01"), er.spec.metric("test_acc")));
  CHECK(s.n == 3);
  CHECK(s.mean == Approx(0.85));
  CHECK(s.sd == Approx(0.01));
  // t_{0.975, 2} = 4.302653 (tables): half-width 4.302653 * 0.01 / sqrt(3).
  CHECK((s.ci_high - s.ci_low) / 2 == Approx(4.302653 * 0.01 / std::sqrt(3.0)).epsilon(1e-5));
}

TEST_CASE("judge_claims tunes each side and gives the known verdicts", "[lab][results]") {
  test::SyntheticSweep sweep("results_claims");
  const std::vector<ExperimentResults> all = load_results(sweep.dir.string());
  const std::vector<ClaimOutcome> cs = all[0].judge_claims();
  REQUIRE(cs.size() == 3);

  const ClaimOutcome& holds = outcome(cs, "S.holds");
  CHECK(holds.experiment == "synth");
  CHECK(holds.verdict.verdict == Verdict::holds);
  // Tuned by val accuracy: LN at its best lr (0.01), BN at its best (0.1).
  CHECK(holds.better_cell == "ln.batch_size-2.lr-0.01");
  CHECK(holds.worse_cell == "bn.batch_size-2.lr-0.1");
  CHECK(holds.verdict.d.diff == Approx(0.25));
  CHECK(holds.verdict.d.ci_low > 0);
  CHECK(holds.verdict.d.n_a == 3);
  CHECK(holds.better_stats.mean == Approx(0.85));
  CHECK(holds.worse_stats.mean == Approx(0.60));
  CHECK(holds.tuning.find("better side") != std::string::npos);
  CHECK(holds.tuning.find("optim.lr=0.01") != std::string::npos);

  const ClaimOutcome& nothold = outcome(cs, "S.nothold");
  CHECK(nothold.verdict.verdict == Verdict::does_not_hold);
  CHECK(nothold.better_cell == "bn.batch_size-2.lr-0.1");
  CHECK(nothold.worse_cell == "ln.batch_size-2.lr-0.01");
  // Test loss, lower is better: oriented difference = LN's loss - BN's loss = 0.15 - 0.40.
  CHECK(nothold.verdict.d.diff == Approx(-0.25));
  CHECK(nothold.verdict.d.ci_high < 0);

  const ClaimOutcome& inconc = outcome(cs, "S.inconc");
  CHECK(inconc.verdict.verdict == Verdict::inconclusive);
  CHECK(inconc.better_cell == "ln.batch_size-8.lr-0.01");
  CHECK(inconc.worse_cell == "none.batch_size-8.lr-0.01");
  CHECK(inconc.verdict.d.diff == Approx(0.85 - (0.83 + 0.87 + 0.84) / 3));
  CHECK(inconc.verdict.d.ci_low < 0);
  CHECK(inconc.verdict.d.ci_high > 0);
  CHECK(inconc.verdict.seeds_needed > 3);
  // Its paired reading: LN (0.84, 0.85, 0.86) - none (0.83, 0.87, 0.84) seed by seed.
  CHECK(inconc.paired.d.paired);
  CHECK(inconc.paired.d.n_a == 3);
  CHECK(inconc.paired.d.diff == Approx(0.0033333).epsilon(1e-4));
  CHECK(inconc.paired.d.ci_low == Approx(-0.0483781).epsilon(1e-4));
  CHECK(inconc.paired.verdict == Verdict::inconclusive);
  // S.holds: every seed moves both sides by the same offset, so the paired interval is the point.
  CHECK(holds.paired.verdict == Verdict::holds);
  CHECK(holds.paired.d.ci_low == Approx(0.25));
}

TEST_CASE("judge_claims pairs runs by seed, over the seeds both cells ran", "[lab][results]") {
  test::SyntheticSweep sweep("results_paired");
  // BN beats LN at batch 8, lr 0.01 by 0.01 under every seed (0.85-0.87 vs 0.84-0.86): Welch
  // cannot tell with 3 seeds, the pairs can. Beside it the same claim on cells where one run failed
  // (none, batch 8, lr 0.1, seed 2) so that only 2 seeds pair.
  const std::vector<ClaimOutcome> cs = judge_with_claims(sweep, json::array(
      {{{"id", "W"}, {"statement", "BN beats LN at batch 8"},
        {"better", {{"variant", "bn"}, {"train.batch_size", 8}, {"optim.lr", 0.01}}},
        {"worse", {{"variant", "ln"}, {"train.batch_size", 8}, {"optim.lr", 0.01}}}},
       {{"id", "P"}, {"statement", "BN beats LN at batch 8, paired"}, {"test", "paired"},
        {"better", {{"variant", "bn"}, {"train.batch_size", 8}, {"optim.lr", 0.01}}},
        {"worse", {{"variant", "ln"}, {"train.batch_size", 8}, {"optim.lr", 0.01}}}},
       {{"id", "F"}, {"statement", "LN beats none at batch 8, lr 0.1"}, {"test", "paired"},
        {"better", {{"variant", "ln"}, {"train.batch_size", 8}, {"optim.lr", 0.1}}},
        {"worse", {{"variant", "none"}, {"train.batch_size", 8}, {"optim.lr", 0.1}}}}}));
  REQUIRE(cs.size() == 3);
  const ClaimOutcome& w = outcome(cs, "W");
  CHECK(w.claim.test == Claim::Test::welch);
  CHECK(w.verdict.verdict == Verdict::inconclusive);
  CHECK_FALSE(w.verdict.d.paired);
  CHECK(w.paired.verdict == Verdict::holds);
  const ClaimOutcome& p = outcome(cs, "P");
  CHECK(p.claim.test == Claim::Test::paired);
  CHECK(p.verdict.verdict == Verdict::holds);
  CHECK(p.verdict.d.paired);
  CHECK(p.verdict.d.diff == Approx(0.01));
  CHECK(p.verdict.d.n_a == 3);
  const ClaimOutcome& f = outcome(cs, "F");
  CHECK(f.verdict.d.paired);
  CHECK(f.verdict.d.n_a == 2);  // seed 2 of the worse side failed
  CHECK(f.better_stats.n == 3);
  // LN 0.79, 0.80 vs none 0.69, 0.70 on seeds 0 and 1.
  CHECK(f.verdict.d.diff == Approx(0.10));
  CHECK(f.verdict.verdict == Verdict::holds);
}

TEST_CASE("judge_claims without tuning compares the pinned cells", "[lab][results]") {
  test::SyntheticSweep sweep("results_pinned");
  const std::vector<ClaimOutcome> cs = judge_with_claims(
      sweep, json::array({{{"id", "P"}, {"statement", "LN beats none at batch 2, lr 0.1"},
                           {"better", {{"variant", "ln"}, {"train.batch_size", 2}, {"optim.lr", 0.1}}},
                           {"worse", {{"variant", "none"}, {"train.batch_size", 2}, {"optim.lr", 0.1}}}}}));
  REQUIRE(cs.size() == 1);
  CHECK(cs[0].tuning.empty());
  CHECK(cs[0].worse_cell == "none.batch_size-2.lr-0.1");
  CHECK(cs[0].verdict.d.n_b == 3);  // the diverged run counts, at 0.1
  CHECK(cs[0].worse_stats.mean == Approx((0.1 + 0.50 + 0.52) / 3));
  // 0.80 vs (0.1, 0.50, 0.52): the diverged run's value widens the spread so much that the
  // interval contains 0.
  CHECK(cs[0].verdict.d.diff == Approx(0.80 - (0.1 + 0.50 + 0.52) / 3));
  CHECK(cs[0].verdict.verdict == Verdict::inconclusive);
}

TEST_CASE("load_results names the missing sweep index", "[lab][results]") {
  const std::string dir = (std::filesystem::temp_directory_path() / "normlab_no_such_sweep_dir").string();
  try {
    (void)load_results(dir);
    FAIL("expected an error");
  } catch (const nl::Error& e) {
    CHECK(std::string(e.what()).find("sweep.json") != std::string::npos);
  }
}
