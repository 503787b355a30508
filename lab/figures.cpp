// The report's figures for one experiment, as data (see lab/figures.h); lab/gnuplot.cpp
// renders them. Curves average the seeds of a cell step by step; a run that diverged stops
// contributing where it ended, and that point is marked, so divergence stays visible.
#include "lab/figures.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "lab/report_format.h"

namespace nl::lab {
namespace {

constexpr size_t kMaxSeries = 8;   // lines per figure before it is split into several
constexpr size_t kMaxPanels = 12;  // figures per kind and experiment
// Axes with a figure of the final primary metric against their (numeric, log2-spaced) values.
struct ScaleAxis {
  const char* key;    // grid axis
  const char* name;   // figure name suffix
  const char* what;   // in titles: "<metric> vs <what>"
};
const ScaleAxis kScaleAxes[] = {{"train.batch_size", "batch_size", "batch size"},
                                {"ranks", "ranks", "ranks (data-parallel processes)"}};

struct Panel {
  std::string suffix;  // "" or e.g. "lr=0.01" when the cells are split over several figures
  std::vector<const CellResult*> cells;
};

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out;
}

std::vector<std::string> without(std::vector<std::string> v, const std::string& x) {
  v.erase(std::remove(v.begin(), v.end(), x), v.end());
  return v;
}

// Groups series keys (cells, or cells without their batch size) into figures: all in one when
// there are few; otherwise one figure per value of the axes other than the series axis
// ("variant" when there is one), so each figure compares the variants at a fixed setting.
template <class Key>
std::vector<std::pair<std::string, std::vector<Key>>> split_panels(const ExperimentResults& er,
                                                                   const std::vector<Key>& keys,
                                                                   const std::vector<std::string>& axes,
                                                                   const json& (*cell_of)(const Key&)) {
  std::vector<std::pair<std::string, std::vector<Key>>> out;
  if (keys.size() <= kMaxSeries || axes.empty()) {
    out.push_back({"", keys});
    return out;
  }
  const std::string series_axis =
      std::find(axes.begin(), axes.end(), "variant") != axes.end() ? "variant" : axes.front();
  const std::vector<std::string> rest = without(axes, series_axis);
  std::map<std::string, size_t> index;
  for (const Key& k : keys) {
    const std::string label = fmt::cell_label(er, cell_of(k), rest);
    auto [it, fresh] = index.emplace(label, out.size());
    if (fresh) out.push_back({label, {}});
    out[it->second].second.push_back(k);
  }
  if (out.size() > kMaxPanels) out.resize(kMaxPanels);
  return out;
}

const json& cell_json(const CellResult* const& c) { return c->cell; }

// The axes whose value differs between the cells: what a legend or tick label needs to say
// (the rest is in the figure's title). All axes when nothing differs.
std::vector<std::string> varying_axes(const ExperimentResults& er, const std::vector<const CellResult*>& cells) {
  std::vector<std::string> out;
  for (const std::string& a : fmt::cell_axes(er))
    for (const CellResult* c : cells)
      if (c->cell.value(a, json()) != cells.front()->cell.value(a, json())) {
        out.push_back(a);
        break;
      }
  return out.empty() ? fmt::cell_axes(er) : out;
}

std::vector<Panel> cell_panels(const ExperimentResults& er, const std::vector<const CellResult*>& cells) {
  std::vector<Panel> out;
  for (auto& [suffix, group] : split_panels(er, cells, fmt::cell_axes(er), &cell_json)) out.push_back({suffix, group});
  return out;
}

std::string panel_name(const std::string& base, size_t i, size_t n) {
  return n == 1 ? base : base + "-" + std::to_string(i + 1);
}
std::string panel_title(const std::string& title, const std::string& suffix) {
  return suffix.empty() ? title : title + " (" + suffix + ")";
}

// (a) Final primary metric vs batch size (or ranks), one line per setting of the other axes.
void scale_figures(const ExperimentResults& er, const ScaleAxis& scale, std::vector<Plot>& out) {
  const std::string axis = scale.key;
  const std::vector<std::string> axes = fmt::cell_axes(er);
  if (std::find(axes.begin(), axes.end(), axis) == axes.end()) return;
  std::vector<json> values;
  for (const CellResult& c : er.cells)
    if (c.cell.contains(axis) && std::find(values.begin(), values.end(), c.cell[axis]) == values.end())
      values.push_back(c.cell[axis]);
  if (values.size() < 2) return;
  const MetricSpec& m = er.spec.metric(er.spec.primary_metric);
  const std::vector<std::string> others = without(axes, axis);
  // Series: one per setting of the other axes (the cell without this axis).
  std::vector<json> series;
  for (const CellResult& c : er.cells) {
    json key = c.cell;
    key.erase(axis);
    if (std::find(series.begin(), series.end(), key) == series.end()) series.push_back(key);
  }
  const auto panels = split_panels<json>(er, series, others, +[](const json& j) -> const json& { return j; });
  for (size_t p = 0; p < panels.size(); ++p) {
    Plot plot;
    plot.name = panel_name(er.spec.name + "-" + scale.name, p, panels.size());
    plot.experiment = er.spec.name;
    plot.title = panel_title(m.label + " vs " + scale.what, panels[p].first);
    plot.xlabel = std::string(scale.what) + " (log2 scale)";
    plot.ylabel = m.label;
    plot.logx2 = true;
    plot.caption = "Final " + m.label + " per " + std::string(scale.what) + ": mean over seeds with 95 % CI bars" +
                   (m.diverged_value ? " (diverged runs count as " + fmt::num(*m.diverged_value) + ")" : "") + ".";
    int color = 1;
    for (const json& key : panels[p].second) {
      PlotSeries s;
      s.style = PlotSeries::Style::yerrorlines;
      s.title = fmt::cell_label(er, key, others);
      s.color = color++;
      for (const CellResult& c : er.cells) {
        json k = c.cell;
        k.erase(axis);
        if (k != key || !c.cell[axis].is_number()) continue;
        const CellStats st = describe(er.values(c, m));
        if (st.n == 0) continue;
        const double lo = st.n > 1 ? st.ci_low : st.mean, hi = st.n > 1 ? st.ci_high : st.mean;
        s.rows.push_back({c.cell[axis].get<double>(), st.mean, lo, hi});
      }
      std::sort(s.rows.begin(), s.rows.end());
      if (!s.rows.empty()) plot.series.push_back(std::move(s));
    }
    if (!plot.series.empty()) out.push_back(std::move(plot));
  }
}

// (b) Learning curves of a panel's cells, against step or wall time.
Plot curve_plot(const ExperimentResults& er, const Panel& panel, bool by_wall, const std::string& name) {
  Plot plot;
  plot.name = name;
  plot.experiment = er.spec.name;
  plot.title = panel_title(std::string("train loss vs ") + (by_wall ? "wall time" : "step"), panel.suffix);
  plot.xlabel = by_wall ? "wall time (s)" : "step";
  plot.ylabel = "train loss";
  plot.caption = std::string("Train loss vs ") + (by_wall ? "wall time" : "step") +
                 ": mean over the seeds of each cell, band = min..max over seeds; × marks where a diverged "
                 "run ended (it stops contributing to the mean there).";
  const std::vector<std::string> legend_axes = varying_axes(er, panel.cells);
  int color = 1;
  PlotSeries ends;
  ends.style = PlotSeries::Style::points;
  ends.title = "diverged run ends";
  ends.color = 0;
  for (const CellResult* c : panel.cells) {
    std::map<int64_t, std::vector<std::pair<double, double>>> at;  // step -> (wall, loss) per run
    for (const RunResultRecord* r : c->runs) {
      for (const CurvePoint& p : r->train_curve) at[p.step].push_back({p.wall_s, p.loss});
      if (r->status == "diverged" && !r->train_curve.empty()) {
        const CurvePoint& last = r->train_curve.back();
        ends.rows.push_back({by_wall ? last.wall_s : static_cast<double>(last.step), last.loss});
      }
    }
    if (at.empty()) continue;
    PlotSeries band;
    band.style = PlotSeries::Style::band;
    band.color = color;
    for (const auto& [step, pts] : at) {
      double wall = 0, loss = 0, lo = INFINITY, hi = -INFINITY;
      int nwall = 0;
      for (const auto& [w, l] : pts) {
        if (std::isfinite(w)) wall += w, ++nwall;
        loss += l;
        lo = std::min(lo, l);
        hi = std::max(hi, l);
      }
      if (by_wall && nwall == 0) continue;
      const double x = by_wall ? wall / nwall : static_cast<double>(step);
      band.rows.push_back({x, loss / static_cast<double>(pts.size()), lo, hi});
    }
    band.title = fmt::cell_label(er, c->cell, legend_axes) + " (n=" + std::to_string(c->runs.size()) + ")";
    ++color;
    if (!band.rows.empty()) plot.series.push_back(std::move(band));
  }
  if (!ends.rows.empty()) plot.series.push_back(std::move(ends));
  return plot;
}

void curve_figures(const ExperimentResults& er, std::vector<Plot>& out) {
  std::vector<const CellResult*> cells;
  for (const CellResult& c : er.cells)
    for (const RunResultRecord* r : c.runs)
      if (!r->train_curve.empty()) {
        cells.push_back(&c);
        break;
      }
  if (cells.empty()) return;
  const std::vector<Panel> panels = cell_panels(er, cells);
  for (size_t p = 0; p < panels.size(); ++p)
    for (bool by_wall : {false, true}) {
      Plot plot = curve_plot(er, panels[p], by_wall,
                             panel_name(er.spec.name + (by_wall ? "-curves_wall" : "-curves_step"), p, panels.size()));
      if (!plot.series.empty()) out.push_back(std::move(plot));
    }
}

// A number field of a JSON object other than the bookkeeping ones: the run's metric name.
std::string metric_field(const json& o, const std::string& prefer) {
  if (!o.is_object()) return "";
  if (o.contains(prefer) && o[prefer].is_number()) return prefer;
  for (auto it = o.begin(); it != o.end(); ++it)
    if (it.value().is_number() && it.key() != "loss" && it.key() != "batch_size" && it.key() != "count" &&
        it.key() != "min_length" && it.key() != "max_length")
      return it.key();
  return "";
}

std::string primary_leaf(const ExperimentResults& er) {
  const std::string& path = er.spec.metric(er.spec.primary_metric).path;
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// (c) BN: eval mode (running statistics) vs train mode (batch statistics), per cell.
void bn_gap_figure(const ExperimentResults& er, std::vector<Plot>& out) {
  const std::vector<BnGapRow> rows = bn_gap_rows(er);
  if (rows.empty()) return;
  Plot plot;
  plot.name = er.spec.name + "-bn_gap";
  plot.experiment = er.spec.name;
  plot.title = "BN: eval mode vs batch statistics (val " + rows[0].metric + ")";
  plot.ylabel = "val " + rows[0].metric;
  plot.caption = "Validation " + rows[0].metric +
                 " of BatchNorm models evaluated with running statistics (eval mode) and with the statistics "
                 "of each evaluation batch (train mode, shuffled order); mean over seeds.";
  PlotSeries eval, bs;
  eval.style = bs.style = PlotSeries::Style::boxes;
  eval.title = "eval mode (running statistics)";
  bs.title = "train mode (batch statistics)";
  eval.color = 1;
  bs.color = 2;
  std::vector<const CellResult*> cells;
  for (const BnGapRow& r : rows) cells.push_back(r.cell);
  const std::vector<std::string> tick_axes = varying_axes(er, cells);
  for (size_t i = 0; i < rows.size(); ++i) {
    const double x = static_cast<double>(i);
    plot.xtics.push_back({x, fmt::cell_label(er, rows[i].cell->cell, tick_axes)});
    if (rows[i].eval_mode.n) eval.rows.push_back({x - 0.2, rows[i].eval_mode.mean});
    if (rows[i].batch_stats.n) bs.rows.push_back({x + 0.2, rows[i].batch_stats.mean});
  }
  plot.series = {eval, bs};
  out.push_back(std::move(plot));
}

// (d) The metric per sequence-length bucket (final.test.by_length), one line per cell.
void by_length_figures(const ExperimentResults& er, std::vector<Plot>& out) {
  std::vector<const CellResult*> cells;
  std::vector<std::string> buckets;
  std::string leaf;
  for (const CellResult& c : er.cells)
    for (const RunResultRecord* r : c.runs) {
      if (r->status != "completed" || !r->final_metrics.is_object()) continue;
      const json* bl = nullptr;
      if (r->final_metrics.contains("test") && r->final_metrics["test"].is_object() &&
          r->final_metrics["test"].contains("by_length") && r->final_metrics["test"]["by_length"].is_array())
        bl = &r->final_metrics["test"]["by_length"];
      if (!bl || bl->empty()) continue;
      if (buckets.empty()) {
        leaf = metric_field((*bl)[0], primary_leaf(er));
        for (const json& b : *bl)
          buckets.push_back(fmt::value_text(b.value("min_length", json(nullptr))) + "–" +
                            fmt::value_text(b.value("max_length", json(nullptr))));
      }
      cells.push_back(&c);
      break;
    }
  if (cells.empty() || leaf.empty()) return;
  const std::vector<Panel> panels = cell_panels(er, cells);
  for (size_t p = 0; p < panels.size(); ++p) {
    Plot plot;
    plot.name = panel_name(er.spec.name + "-by_length", p, panels.size());
    plot.experiment = er.spec.name;
    plot.title = panel_title("test " + leaf + " per sequence length", panels[p].suffix);
    plot.xlabel = "sequence length";
    plot.ylabel = "test " + leaf;
    plot.caption = "Test " + leaf + " per length bucket (completed runs): mean over seeds with 95 % CI bars.";
    for (size_t b = 0; b < buckets.size(); ++b) plot.xtics.push_back({static_cast<double>(b), buckets[b]});
    const std::vector<std::string> legend_axes = varying_axes(er, panels[p].cells);
    int color = 1;
    for (const CellResult* c : panels[p].cells) {
      PlotSeries s;
      s.style = PlotSeries::Style::yerrorlines;
      s.title = fmt::cell_label(er, c->cell, legend_axes);
      s.color = color++;
      for (size_t b = 0; b < buckets.size(); ++b) {
        const std::string path = "test.by_length." + std::to_string(b) + "." + leaf;
        std::vector<double> v;
        for (const RunResultRecord* r : c->runs)
          if (r->status == "completed")
            if (auto x = metric_at(r->final_metrics, path)) v.push_back(*x);
        const CellStats st = describe(v);
        if (st.n == 0) continue;
        s.rows.push_back({static_cast<double>(b), st.mean, st.n > 1 ? st.ci_low : st.mean,
                          st.n > 1 ? st.ci_high : st.mean});
      }
      if (!s.rows.empty()) plot.series.push_back(std::move(s));
    }
    if (!plot.series.empty()) out.push_back(std::move(plot));
  }
}

}  // namespace

std::vector<BnGapRow> bn_gap_rows(const ExperimentResults& er) {
  std::vector<BnGapRow> out;
  const std::string prefer = primary_leaf(er);
  for (const CellResult& c : er.cells) {
    BnGapRow row;
    row.cell = &c;
    std::vector<double> ev, bs, gap;
    for (const RunResultRecord* r : c.runs) {
      if (r->status != "completed") continue;
      const json& f = r->final_metrics;
      if (!f.is_object() || !f.contains("val") || !f["val"].is_object() || !f["val"].contains("batch_stats")) continue;
      const json& b = f["val"]["batch_stats"];
      if (row.metric.empty()) row.metric = metric_field(b, prefer);
      if (row.metric.empty()) continue;
      if (b.contains("batch_size") && b["batch_size"].is_number_integer()) row.batch_size = b["batch_size"].get<int>();
      const auto e = metric_at(f, "val." + row.metric), t = metric_at(f, "val.batch_stats." + row.metric);
      if (e) ev.push_back(*e);
      if (t) bs.push_back(*t);
      if (e && t) gap.push_back(*t - *e);
    }
    if (bs.empty()) continue;
    row.eval_mode = describe(ev);
    row.batch_stats = describe(bs);
    row.gap = describe(gap);
    out.push_back(row);
  }
  return out;
}

std::vector<Plot> experiment_figures(const ExperimentResults& er) {
  std::vector<Plot> out;
  for (const ScaleAxis& scale : kScaleAxes) scale_figures(er, scale, out);
  curve_figures(er, out);
  bn_gap_figure(er, out);
  by_length_figures(er, out);
  for (Plot& p : out) p.name = safe_name(p.name);
  return out;
}

}  // namespace nl::lab
