// A figure as data (series of points with a style) and its rendering by gnuplot into SVG.
// lab/figures.cpp decides what to plot; lab/gnuplot.cpp writes NAME.dat + NAME.gp into the
// figures folder and runs gnuplot on them (the .dat/.gp stay, so a figure can be re-rendered
// or restyled by hand). Internal to the report.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace nl::lab {

struct PlotSeries {
  // yerrorlines / band rows: x y low high; lines / points / boxes rows: x y.
  enum class Style { yerrorlines, band, lines, points, boxes } style = Style::lines;
  std::string title;  // legend entry ("" = none)
  int color = 1;      // gnuplot line type (colour); a band and its mean line share one
  std::vector<std::vector<double>> rows;
};

struct Plot {
  std::string name;        // file stem in SWEEP/figures/, e.g. "e1_batch_size-batch_size"
  std::string experiment;  // the experiment it belongs to
  std::string title, xlabel, ylabel, caption;
  bool logx2 = false;
  std::vector<std::pair<double, std::string>> xtics;  // categorical x labels (empty: numeric)
  std::vector<PlotSeries> series;
};

struct RenderedPlot {
  bool ok = false;
  std::string svg_path;  // full path of the SVG when ok
  std::string error;     // why it was skipped
};

// Whether `program` can be run: a path to an executable file, or a name found on PATH.
bool program_available(const std::string& program);

// Writes the .dat/.gp of every plot into `figures_dir` (created) and, when `gnuplot` is
// available, renders each to NAME.svg. One result per plot, in order.
std::vector<RenderedPlot> render_plots(const std::vector<Plot>& plots, const std::string& figures_dir,
                                       const std::string& gnuplot);

}  // namespace nl::lab
