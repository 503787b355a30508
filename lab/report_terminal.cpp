// The terminal summary of a report (see lab/report_terminal.h).
#include "lab/report_terminal.h"

#include <algorithm>
#include <numeric>

#include "lab/report_format.h"

namespace nl::lab {

void print_text_table(std::ostream& out, const DocTable& t, size_t max_width) {
  const size_t n = t.header.size();
  std::vector<size_t> w(n, 0);
  for (size_t c = 0; c < n; ++c) {
    w[c] = fmt::display_width(t.header[c]);
    for (const auto& row : t.rows)
      if (c < row.size()) w[c] = std::max(w[c], fmt::display_width(row[c]));
  }
  // Shrink the last column (free text such as a statement) down to 20, then the widest,
  // until the table fits (2 spaces between columns).
  auto total = [&] { return std::accumulate(w.begin(), w.end(), size_t{0}) + 2 * (n ? n - 1 : 0); };
  while (n && total() > max_width && w[n - 1] > 20) --w[n - 1];
  while (total() > max_width) {
    auto widest = std::max_element(w.begin(), w.end());
    if (*widest <= 8) break;
    --*widest;
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (size_t c = 0; c < n; ++c) {
      const std::string cell = fmt::clip(c < cells.size() ? cells[c] : "", w[c]);
      s += cell;
      if (c + 1 < n) s += std::string(w[c] - fmt::display_width(cell) + 2, ' ');
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out << s << "\n";
  };
  line(t.header);
  std::vector<std::string> rule;
  for (size_t c = 0; c < n; ++c) rule.push_back(std::string(w[c], '-'));
  line(rule);
  for (const auto& row : t.rows) line(row);
}

void print_summary(std::ostream& out, const ReportInputs& in, const std::string& markdown_path,
                   const std::string& html_path, int figures_written, size_t figures_skipped) {
  constexpr size_t kWidth = 100;
  DocTable claims;
  // Numbers unclipped within 100 columns: the statements and seed counts are in the report.
  claims.header = {"claim", "verdict (~seeds needed)", "difference [95% CI]", "paired by seed"};
  for (const auto& per_exp : in.claims)
    for (const ClaimOutcome& c : per_exp) {
      const std::string paired = fmt::ci_text(c.paired.d);
      claims.rows.push_back(
          {c.claim.id,
           to_string(c.verdict.verdict) +
               (c.verdict.seeds_needed > 0 ? " (~" + std::to_string(c.verdict.seeds_needed) + ")" : ""),
           fmt::difference_text(c), paired.empty() ? "n/a" : paired});
    }
  out << "Claims and verdicts (95 % CI of the difference; + favours the claim)\n";
  if (claims.rows.empty()) out << "  (no claims in this sweep)\n";
  else print_text_table(out, claims, kWidth);
  for (const ExperimentResults& er : in.experiments) {
    out << "\n" << er.spec.name << (er.spec.title.empty() ? "" : ": " + er.spec.title) << "\n";
    if (er.cells.empty()) out << "  (no runs)\n";
    else print_text_table(out, cell_table(er, /*compact=*/true), kWidth);
  }
  out << "\nfigures: " << figures_written << " written";
  if (figures_skipped) out << ", " << figures_skipped << " skipped (listed in the report)";
  out << "\nreport: " << markdown_path << "\n        " << html_path << "\n";
}

}  // namespace nl::lab
