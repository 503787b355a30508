// The report's terminal summary (lab/report_terminal.cpp): the headline table of claims with
// their verdicts, a compact per-cell table per experiment, and where the report files are;
// fits 100 columns (long cells are cut with "…").
#pragma once
#include <ostream>

#include "lab/report_content.h"

namespace nl::lab {

void print_summary(std::ostream& out, const ReportInputs& in, const std::string& markdown_path,
                   const std::string& html_path, int figures_written, size_t figures_skipped);

// A plain-text table with columns sized to their content, cut to fit `max_width`.
void print_text_table(std::ostream& out, const DocTable& t, size_t max_width);

}  // namespace nl::lab
