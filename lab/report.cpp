// write_report (lab/report.h): loads the sweep, judges the claims, renders the figures with
// gnuplot, writes report.md and report.html into the sweep folder and prints the summary.
#include "lab/report.h"

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "lab/figures.h"
#include "lab/report_content.h"
#include "lab/report_terminal.h"
#include "lab/sweep.h"

namespace nl::lab {
namespace fs = std::filesystem;

namespace {

// Written to a temporary file and renamed, so a reader never sees half a report.
void write_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw DataError("cannot write '" + tmp.string() + "'");
    out << text;
    if (!out) throw DataError("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, path);
}

}  // namespace

ReportResult write_report(const ReportOptions& opt) {
  ReportInputs in;
  in.sweep_dir = opt.sweep_dir;
  in.index = read_sweep_index(opt.sweep_dir);
  in.experiments = load_results(opt.sweep_dir);

  ReportResult res;
  const fs::path figures_dir = fs::path(opt.sweep_dir) / "figures";
  for (const ExperimentResults& er : in.experiments) {
    in.claims.push_back(er.judge_claims());
    for (const ClaimOutcome& c : in.claims.back()) res.claims.push_back(c);
    const std::vector<Plot> plots = experiment_figures(er);
    const std::vector<RenderedPlot> rendered = render_plots(plots, figures_dir.string(), opt.gnuplot);
    std::vector<FigureOutcome> figs;
    for (size_t i = 0; i < plots.size(); ++i) {
      figs.push_back({plots[i], rendered[i]});
      if (rendered[i].ok) ++res.figures_written;
      else res.figures_skipped.push_back("figures/" + plots[i].name + ".svg (" + plots[i].title + "): " + rendered[i].error);
    }
    in.figures.push_back(std::move(figs));
  }

  const Doc doc = build_report(in);
  res.markdown_path = (fs::path(opt.sweep_dir) / "report.md").string();
  res.html_path = (fs::path(opt.sweep_dir) / "report.html").string();
  write_file(res.markdown_path, render_markdown(doc));
  write_file(res.html_path, render_html(doc));
  if (opt.print_summary && opt.out)
    print_summary(*opt.out, in, res.markdown_path, res.html_path, res.figures_written, res.figures_skipped.size());
  return res;
}

}  // namespace nl::lab
