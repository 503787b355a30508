// Judging an experiment's claims on its results (ExperimentResults::judge_claims, declared in
// lab/results.h). Each side of a claim is one cell: the cell its selector pins or, when the
// claim tunes some axes ("each norm at its best learning rate"), the matching cell with the
// best mean of the tuning metric. The verdict is then computed on the claim's metric by
// lab/stats.h's judge(): on the two cells' values as independent samples (Welch), or paired
// seed by seed when the claim's test is "paired". The paired reading is computed for every
// claim, so a report can show both.
#include <cmath>
#include <cstdio>
#include <map>

#include "lab/results.h"

namespace nl::lab {
namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

struct Choice {
  const CellResult* cell = nullptr;
  std::string note;  // the tuning candidates, when tuned
};

// The cell for one side. Without tuning the selector pins one cell (the spec parser checks
// that); should several match anyway, the best by the claim's metric is taken, as for tuning.
Choice choose(const ExperimentResults& er, const Selector& sel, const Claim& c) {
  std::vector<const CellResult*> candidates;
  for (const CellResult& cell : er.cells)
    if (matches(sel, cell.cell)) candidates.push_back(&cell);
  Choice ch;
  if (candidates.empty()) return ch;
  if (candidates.size() == 1 && c.tune_axes.empty()) {
    ch.cell = candidates[0];
    return ch;
  }
  const MetricSpec& by = er.spec.metric(c.tune_by.empty() ? c.metric : c.tune_by);
  double best = NAN;
  for (const CellResult* cell : candidates) {
    const std::vector<double> v = er.values(*cell, by);
    std::string where;
    for (const std::string& a : c.tune_axes)
      if (cell->cell.contains(a)) where += (where.empty() ? "" : ", ") + a + "=" + value_text(cell->cell[a]);
    if (where.empty()) where = cell->cell_id;
    if (!ch.note.empty()) ch.note += "; ";
    if (v.empty()) {
      ch.note += where + ": no values";
      continue;
    }
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    ch.note += where + ": " + num(mean);
    const bool better = std::isnan(best) || (by.higher_is_better ? mean > best : mean < best);
    if (better) {
      best = mean;
      ch.cell = cell;
    }
  }
  if (!ch.cell) ch.cell = candidates[0];  // nothing measured yet: report on the first cell
  ch.note = "best by " + by.name + " mean (" + (by.higher_is_better ? "higher" : "lower") + " is better) among " +
            ch.note + " -> " + ch.cell->cell_id;
  return ch;
}

// The values of the seeds both cells ran, in seed order: better[i] and worse[i] share a seed.
struct SeedPairs {
  std::vector<double> better, worse;
};
SeedPairs seed_pairs(const std::map<int64_t, double>& better, const std::map<int64_t, double>& worse) {
  SeedPairs p;
  for (const auto& [seed, v] : better)
    if (auto it = worse.find(seed); it != worse.end()) {
      p.better.push_back(v);
      p.worse.push_back(it->second);
    }
  return p;
}

}  // namespace

std::vector<ClaimOutcome> ExperimentResults::judge_claims() const {
  std::vector<ClaimOutcome> out;
  for (const Claim& c : spec.claims) {
    ClaimOutcome o;
    o.experiment = spec.name;
    o.claim = c;
    const MetricSpec& m = spec.metric(c.metric.empty() ? spec.primary_metric : c.metric);
    const Choice b = choose(*this, c.better, c), w = choose(*this, c.worse, c);
    std::vector<double> bv, wv;
    std::map<int64_t, double> bs, ws;
    if (b.cell) {
      o.better_cell = b.cell->cell_id;
      bv = values(*b.cell, m);
      bs = values_by_seed(*b.cell, m);
    }
    if (w.cell) {
      o.worse_cell = w.cell->cell_id;
      wv = values(*w.cell, m);
      ws = values_by_seed(*w.cell, m);
    }
    const double threshold = c.kind == Claim::Kind::not_worse ? -c.margin : 0.0;
    const SeedPairs pairs = seed_pairs(bs, ws);
    o.paired = judge(pairs.better, pairs.worse, m.higher_is_better, threshold, 0.95, Pairing::by_seed);
    o.verdict = c.test == Claim::Test::paired ? o.paired : judge(bv, wv, m.higher_is_better, threshold);
    if (!b.cell || !w.cell) {
      o.verdict.note = std::string("no cell in the sweep matches the ") + (!b.cell ? "better" : "worse") + " side";
      o.paired.note = o.verdict.note;
    }
    o.better_stats = describe(bv);
    o.worse_stats = describe(wv);
    if (!b.note.empty()) o.tuning = "better side: " + b.note;
    if (!w.note.empty()) o.tuning += (o.tuning.empty() ? "" : "; ") + std::string("worse side: ") + w.note;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace nl::lab
