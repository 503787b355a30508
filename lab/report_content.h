// What the report says (lab/report_content.cpp): from the loaded results, the judged claims
// and the rendered figures, the document both report files are written from.
#pragma once
#include <string>
#include <vector>

#include "lab/plot.h"
#include "lab/report_doc.h"

namespace nl::lab {

struct FigureOutcome {
  Plot plot;
  RenderedPlot rendered;
};

struct ReportInputs {
  std::string sweep_dir;
  json index;                                         // sweep.json
  std::vector<ExperimentResults> experiments;
  std::vector<std::vector<ClaimOutcome>> claims;      // per experiment
  std::vector<std::vector<FigureOutcome>> figures;    // per experiment
};

Doc build_report(const ReportInputs& in);

// The per-cell table (axes, n, diverged, failed, pending, then every metric as mean ± CI).
// `compact`: only the primary metric (for the terminal).
DocTable cell_table(const ExperimentResults& er, bool compact);

// The shell command that reproduces an experiment's sweep.
std::string reproduce_command(const ExperimentResults& er, const std::string& sweep_dir);

}  // namespace nl::lab
