// The report of a sweep folder: per experiment the question, the claims and their sources,
// the command that reproduces it, a table per cell (mean ± 95 % CI, n, diverged runs), each
// claim's verdict with the difference and its CI, and figures rendered by gnuplot (SVG,
// inlined into report.html; without gnuplot the report keeps its tables and says which
// figures it skipped). A summary table of every claim's verdict comes first.
//   SWEEP/report.md, SWEEP/report.html, SWEEP/figures/*.svg (+ the .dat/.gp that made them)
#pragma once
#include <iostream>
#include <string>
#include <vector>

#include "lab/results.h"

namespace nl::lab {

struct ReportOptions {
  std::string sweep_dir;
  std::string gnuplot = "gnuplot";  // the program; "" or not found -> figures skipped
  bool print_summary = true;        // print the headline table and verdicts to `out`
  std::ostream* out = &std::cout;
};

struct ReportResult {
  std::string markdown_path, html_path;
  int figures_written = 0;
  std::vector<std::string> figures_skipped;  // what was skipped and why
  std::vector<ClaimOutcome> claims;          // every claim with its verdict
};

ReportResult write_report(const ReportOptions& opt);

}  // namespace nl::lab
