// The content of the report (lab/report_content.h): a summary table of every claim's verdict,
// then per experiment its question, claims and sources, the command that reproduces it, the
// per-cell table, each claim's verdict with the difference and its CI, BN's train-mode vs
// eval-mode table, and the figures. Figures that could not be rendered are listed with why.
#include "lab/report_content.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "lab/figures.h"
#include "lab/report_format.h"

namespace nl::lab {
namespace fs = std::filesystem;

void Doc::heading(int level, const std::string& text, const std::string& anchor) {
  DocBlock b;
  b.kind = DocBlock::Kind::heading;
  b.level = level;
  b.text = text;
  b.anchor = anchor;
  blocks.push_back(std::move(b));
}
void Doc::paragraph(const std::string& text) {
  DocBlock b;
  b.kind = DocBlock::Kind::paragraph;
  b.text = text;
  blocks.push_back(std::move(b));
}
void Doc::code(const std::string& text) {
  DocBlock b;
  b.kind = DocBlock::Kind::code;
  b.text = text;
  blocks.push_back(std::move(b));
}
void Doc::list(const std::vector<std::string>& items) {
  DocBlock b;
  b.kind = DocBlock::Kind::list;
  b.items = items;
  blocks.push_back(std::move(b));
}
void Doc::table(DocTable t) {
  DocBlock b;
  b.kind = DocBlock::Kind::table;
  b.table = std::move(t);
  blocks.push_back(std::move(b));
}
void Doc::figure(const std::string& file, const std::string& rel, const std::string& caption) {
  DocBlock b;
  b.kind = DocBlock::Kind::figure;
  b.figure_file = file;
  b.figure_rel = rel;
  b.text = caption;
  blocks.push_back(std::move(b));
}

namespace {

std::string metric_header(const MetricSpec& m) { return m.label + (m.higher_is_better ? " ↑" : " ↓"); }

std::string cell_label_or_none(const ExperimentResults& er, const std::string& cell_id) {
  if (cell_id.empty()) return "(no cell)";
  const CellResult* c = fmt::find_cell(er, cell_id);
  return c ? fmt::cell_label(er, c->cell) : cell_id;
}

DocTable summary_table(const ReportInputs& in) {
  DocTable t;
  t.header = {"claim", "statement", "verdict", "difference [95% CI]", "n (better / worse)", "paired by seed [95% CI]"};
  t.verdict_column = 2;
  for (size_t e = 0; e < in.claims.size(); ++e)
    for (const ClaimOutcome& c : in.claims[e])
      t.rows.push_back({c.claim.id, c.claim.statement, fmt::verdict_text(c), fmt::difference_text(c), fmt::n_text(c),
                        fmt::paired_text(c)});
  return t;
}

void run_counts(const ReportInputs& in, Doc& doc) {
  int total = 0, completed = 0, diverged = 0, failed = 0, other = 0;
  for (const ExperimentResults& er : in.experiments)
    for (const RunResultRecord& r : er.runs) {
      ++total;
      if (r.status == "completed") ++completed;
      else if (r.status == "diverged") ++diverged;
      else if (r.status == "failed") ++failed;
      else ++other;
    }
  std::string profile = in.index.value("profile", "");
  doc.paragraph("Sweep folder `" + in.sweep_dir + "`" + (profile.empty() ? "" : ", profile **" + profile + "**") +
                (in.index.contains("updated") && in.index["updated"].is_string()
                     ? ", index updated " + in.index["updated"].get<std::string>()
                     : "") +
                ". Runs: " + std::to_string(total) + " in " + std::to_string(in.experiments.size()) +
                " experiment(s): " + std::to_string(completed) + " completed, " + std::to_string(diverged) +
                " diverged, " + std::to_string(failed) + " failed, " + std::to_string(other) +
                " not finished (pending or interrupted).");
}

void claims_section(const ExperimentResults& er, const std::vector<ClaimOutcome>& claims, Doc& doc) {
  if (claims.empty()) return;
  doc.heading(3, "Verdicts");
  DocTable t;
  t.header = {"claim", "better side", "worse side", "metric", "better: mean ± CI", "worse: mean ± CI",
              "difference [95% CI]", "verdict", "paired by seed [95% CI]"};
  t.verdict_column = 7;
  for (const ClaimOutcome& c : claims) {
    const MetricSpec& m = er.spec.metric(c.claim.metric.empty() ? er.spec.primary_metric : c.claim.metric);
    t.rows.push_back({c.claim.id, cell_label_or_none(er, c.better_cell), cell_label_or_none(er, c.worse_cell),
                      metric_header(m), fmt::mean_ci(c.better_stats), fmt::mean_ci(c.worse_stats),
                      fmt::difference_text(c), fmt::verdict_text(c), fmt::paired_text(c)});
  }
  doc.table(std::move(t));
  std::vector<std::string> notes;
  for (const ClaimOutcome& c : claims) {
    const MetricSpec& m = er.spec.metric(c.claim.metric.empty() ? er.spec.primary_metric : c.claim.metric);
    std::string n = "**" + c.claim.id + "**: " + to_string(c.verdict.verdict) + ". The difference is " +
                    (m.higher_is_better ? "better − worse" : "worse − better (lower is better)") +
                    ", so a positive value favours the claim";
    if (c.claim.test == Claim::Test::paired)
      n += "; the claim's test is paired: the differences seed by seed, over the seeds both sides ran";
    if (c.claim.kind == Claim::Kind::not_worse)
      n += "; the claim is \"not worse by more than " + fmt::num(c.claim.margin) + "\": it holds when the CI lies above " +
           fmt::num(-c.claim.margin);
    n += ".";
    if (!c.verdict.note.empty()) n += " " + c.verdict.note + ".";
    if (!c.tuning.empty()) n += " Tuned over " + [&] {
      std::string a;
      for (const std::string& x : c.claim.tune_axes) a += (a.empty() ? "" : ", ") + x;
      return a;
    }() + " (each side at its best): " + c.tuning + ".";
    notes.push_back(n);
  }
  doc.list(notes);
}

void bn_gap_section(const ExperimentResults& er, Doc& doc) {
  const std::vector<BnGapRow> rows = bn_gap_rows(er);
  if (rows.empty()) return;
  doc.heading(3, "BatchNorm: eval mode vs batch statistics");
  doc.paragraph("Validation " + rows[0].metric +
                " of BN models with running statistics (eval mode, what inference uses) and with each "
                "evaluation batch's own statistics (train mode, on a shuffled order). A large gap means the "
                "model depends on its batch.");
  DocTable t;
  t.header = fmt::cell_axes(er);
  for (std::string& h : t.header) h = fmt::axis_header(h);
  for (const char* h : {"n", "eval mode", "batch statistics", "gap (batch − eval)", "eval batch size"}) t.header.push_back(h);
  for (const BnGapRow& r : rows) {
    std::vector<std::string> row;
    for (const std::string& a : fmt::cell_axes(er)) row.push_back(fmt::axis_value(er.spec, r.cell->cell, a));
    row.push_back(std::to_string(r.batch_stats.n));
    row.push_back(fmt::mean_ci(r.eval_mode));
    row.push_back(fmt::mean_ci(r.batch_stats));
    row.push_back(fmt::mean_ci(r.gap));
    row.push_back(r.batch_size > 0 ? std::to_string(r.batch_size) : "not recorded");
    t.rows.push_back(std::move(row));
  }
  doc.table(std::move(t));
}

void figures_section(const std::string& sweep_dir, const std::vector<FigureOutcome>& figs, Doc& doc) {
  if (figs.empty()) return;
  doc.heading(3, "Figures");
  std::vector<std::string> skipped;
  for (const FigureOutcome& f : figs) {
    const std::string rel = "figures/" + f.plot.name + ".svg";
    if (f.rendered.ok) doc.figure(f.rendered.svg_path, rel, f.plot.title + ". " + f.plot.caption);
    else skipped.push_back("`" + rel + "` (" + f.plot.title + "): " + f.rendered.error);
  }
  if (!skipped.empty()) {
    doc.paragraph("Figures skipped (their data and gnuplot script are in `" +
                  (fs::path(sweep_dir) / "figures").string() + "`):");
    doc.list(skipped);
  }
}

}  // namespace

DocTable cell_table(const ExperimentResults& er, bool compact) {
  DocTable t;
  const std::vector<std::string> axes = fmt::cell_axes(er);
  for (const std::string& a : axes) t.header.push_back(fmt::axis_header(a));
  for (const char* h : {"n", "diverged", "failed"}) t.header.push_back(h);
  bool any_pending = false;
  for (const CellResult& c : er.cells) any_pending |= c.pending > 0;
  if (any_pending) t.header.push_back("unfinished");
  std::vector<const MetricSpec*> metrics = {&er.spec.metric(er.spec.primary_metric)};
  if (!compact) {
    // In the spec file's order (the parsed map is alphabetical).
    std::vector<std::string> names;
    const json& raw = er.spec.raw.contains("metrics") ? er.spec.raw["metrics"] : json();
    if (raw.is_object())
      for (auto it = raw.begin(); it != raw.end(); ++it)
        if (er.spec.metrics.count(it.key())) names.push_back(it.key());
    for (const auto& [name, m] : er.spec.metrics)
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    for (const std::string& name : names)
      if (name != er.spec.primary_metric) metrics.push_back(&er.spec.metrics.at(name));
  }
  for (const MetricSpec* m : metrics) t.header.push_back(metric_header(*m));
  for (const CellResult& c : er.cells) {
    std::vector<std::string> row;
    for (const std::string& a : axes) row.push_back(fmt::axis_value(er.spec, c.cell, a));
    int completed = 0;
    for (const RunResultRecord* r : c.runs) completed += r->status == "completed";
    row.push_back(std::to_string(completed));
    row.push_back(std::to_string(c.diverged));
    row.push_back(std::to_string(c.failed));
    if (any_pending) row.push_back(std::to_string(c.pending));
    for (const MetricSpec* m : metrics) row.push_back(fmt::mean_ci(describe(er.values(c, *m))));
    t.rows.push_back(std::move(row));
  }
  return t;
}

std::string reproduce_command(const ExperimentResults& er, const std::string& sweep_dir) {
  const std::string spec = er.spec.spec_file.empty() ? "experiments/" + er.spec.name + ".json" : er.spec.spec_file;
  const bool profile = !er.profile.empty() && er.profile != "full";
  return "normlab sweep " + spec + (profile ? " --profile " + er.profile : "") + " --out " + sweep_dir +
         "\nnormlab report " + sweep_dir;
}

Doc build_report(const ReportInputs& in) {
  Doc doc;
  doc.title = "normlab lab report";
  doc.heading(1, doc.title);
  run_counts(in, doc);
  doc.heading(2, "Summary: every claim", "summary");
  size_t n_claims = 0;
  for (const auto& c : in.claims) n_claims += c.size();
  if (n_claims == 0) doc.paragraph("No experiment in this sweep states a claim.");
  else doc.table(summary_table(in));
  doc.paragraph("Verdicts are computed from the runs: **holds** when the 95 % CI (Welch) of the difference lies on "
                "the claimed side, **does not hold** when it lies on the other side, **inconclusive** when it "
                "contains 0 (with the seeds per side that would be needed at the observed spread). Diverged runs "
                "count with the metric's diverged value when the spec gives one, and are otherwise left out of "
                "the statistics (they are always counted in the tables). A claim whose spec says `\"test\": "
                "\"paired\"` is judged on the paired interval instead. **Paired by seed** is that interval for "
                "every claim: the mean of the per-seed differences (runs with the same seed share data order and "
                "initialisation) with its Student-t CI over the seeds both sides ran. It is narrower than Welch's "
                "when the two cells move together from seed to seed; for a claim stated with Welch's test it is a "
                "second reading, not its verdict.");

  for (size_t e = 0; e < in.experiments.size(); ++e) {
    const ExperimentResults& er = in.experiments[e];
    doc.heading(2, (er.spec.title.empty() ? er.spec.name : er.spec.title) + " (" + er.spec.name + ")", er.spec.name);
    if (!er.spec.question.empty()) doc.paragraph("**Question.** " + er.spec.question);
    if (!er.spec.claims.empty()) {
      std::vector<std::string> items;
      for (const Claim& c : er.spec.claims)
        items.push_back("**" + c.id + "**: " + c.statement + (c.source.empty() ? "" : " (source: " + c.source + ")"));
      doc.paragraph("**Claims**, stated before the runs:");
      doc.list(items);
    }
    doc.paragraph("**Reproduce:**");
    doc.code(reproduce_command(er, in.sweep_dir));
    doc.heading(3, "Results per cell");
    const MetricSpec& pm = er.spec.metric(er.spec.primary_metric);
    doc.paragraph("Mean ± 95 % CI half-width over seeds (Student t); n = completed runs. Primary metric: **" + pm.label +
                  "** (`" + pm.path + "`)" +
                  (pm.diverged_value ? "; diverged runs count as " + fmt::num(*pm.diverged_value) : "") + ".");
    if (er.cells.empty()) doc.paragraph("No runs recorded for this experiment yet.");
    else doc.table(cell_table(er, false));
    claims_section(er, in.claims[e], doc);
    bn_gap_section(er, doc);
    figures_section(in.sweep_dir, in.figures[e], doc);
  }
  return doc;
}

}  // namespace nl::lab
