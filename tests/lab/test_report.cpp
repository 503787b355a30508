// The report of a sweep folder (lab/report.h): report.md and a self-contained, well-formed
// report.html with the verdict table and the cell rows; figures skipped cleanly and listed
// without gnuplot, rendered and inlined with it; the terminal summary; the CLI command.
#include "test_paths.h"
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lab/plot.h"
#include "lab/report.h"
#include "lab/sweep_fixture.h"

using namespace nl;
using namespace nl::lab;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
  return n;
}

// What a browser needs to show the page as intended: every element closed in order (void
// elements excepted), and nothing loaded from elsewhere. Returns "" or the first problem.
std::string html_problem(const std::string& html) {
  if (html.rfind("<!DOCTYPE html>", 0) != 0) return "no doctype";
  static const std::vector<std::string> kVoid = {"meta", "img", "br", "hr", "link", "input"};
  std::vector<std::string> stack;
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string::npos) {
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unterminated tag at " + std::to_string(i);
    const std::string tag = html.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty() || tag[0] == '!') continue;
    const bool closing = tag[0] == '/';
    const std::string body = tag.substr(closing ? 1 : 0);
    const std::string name = body.substr(0, body.find_first_of(" \t\n/"));
    if (std::find(kVoid.begin(), kVoid.end(), name) != kVoid.end()) continue;
    if (!closing) {
      stack.push_back(name);
      if (name == "style") {  // CSS is text up to </style>
        i = html.find("</style>", i);
        if (i == std::string::npos) return "unclosed style";
      }
    } else {
      if (stack.empty() || stack.back() != name)
        return "</" + name + "> closes <" + (stack.empty() ? "nothing" : stack.back()) + ">";
      stack.pop_back();
    }
  }
  if (!stack.empty()) return "<" + stack.back() + "> never closed";
  for (const char* bad : {"<script", "<link", "<iframe", "url(", "http://", "https://", "href=\"figures", "src=\"figures"})
    if (html.find(bad) != std::string::npos) return std::string("external reference: ") + bad;
  for (size_t s = html.find("src=\""); s != std::string::npos; s = html.find("src=\"", s + 1))
    if (html.compare(s + 5, 5, "data:") != 0) return "src is not a data URI: " + html.substr(s, 40);
  return "";
}

ReportOptions quiet_options(const fs::path& dir, const std::string& gnuplot) {
  ReportOptions o;
  o.sweep_dir = dir.string();
  o.gnuplot = gnuplot;
  o.print_summary = false;
  return o;
}

}  // namespace

TEST_CASE("the html checker of these tests finds unbalanced tags and external files", "[lab][report]") {
  CHECK(html_problem("<!DOCTYPE html>\n<html><body><p>x</p><img src=\"data:a\"></body></html>").empty());
  CHECK_FALSE(html_problem("<!DOCTYPE html>\n<html><body><p>x</body></html>").empty());
  CHECK_FALSE(html_problem("<!DOCTYPE html>\n<html><body><img src=\"figures/a.svg\"></body></html>").empty());
  CHECK_FALSE(html_problem("<!DOCTYPE html>\n<html><body><script></script></body></html>").empty());
}

TEST_CASE("report without gnuplot writes both files with the verdicts and cell rows, and lists skipped figures",
          "[lab][report]") {
  test::SyntheticSweep sweep("report_nognuplot");
  const ReportResult r = write_report(quiet_options(sweep.dir, "/nonexistent/gnuplot-for-test"));
  CHECK(r.markdown_path == (sweep.dir / "report.md").string());
  CHECK(r.html_path == (sweep.dir / "report.html").string());
  REQUIRE(r.claims.size() == 3);
  CHECK(r.figures_written == 0);
  // batch size, 2 x curves, BN gap, by length: one panel each (12 cells split into 4 panels of
  // 3 variants for curves and by-length, as 12 > 8 series).
  REQUIRE_FALSE(r.figures_skipped.empty());
  for (const std::string& s : r.figures_skipped) CHECK(s.find("gnuplot not found: /nonexistent/gnuplot-for-test") != std::string::npos);

  const std::string md = slurp(r.markdown_path);
  CHECK(md.find("## Summary: every claim") != std::string::npos);
  CHECK(md.find("| claim | statement | verdict | difference [95% CI] | n (better / worse) |") != std::string::npos);
  CHECK(md.find("| S.holds | LN beats BN at batch 2 | holds | +0.2500 [") != std::string::npos);
  CHECK(md.find("| S.nothold | BN beats LN at batch 2 on test loss | does not hold | -0.2500 [") != std::string::npos);
  CHECK(md.find("| S.inconc | LN beats no norm at batch 8 | inconclusive (≈ ") != std::string::npos);
  // The paired reading beside each verdict (LN - none seed by seed: 0.01, -0.02, 0.02).
  CHECK(md.find("| n (better / worse) | paired by seed [95% CI] |") != std::string::npos);
  CHECK(md.find("| 3 / 3 | +0.0033 [-0.0484, 0.0550], 3 seeds |") != std::string::npos);
  // Cell rows: axes, n completed, diverged, failed, then mean ± CI half-width.
  CHECK(md.find("| variant | batch_size | lr | n | diverged | failed | test accuracy ↑ | val accuracy ↑ | test loss ↓ |") !=
        std::string::npos);
  CHECK(md.find("| LayerNorm | 2 | 0.01 | 3 | 0 | 0 | 0.8500 ± 0.0248 |") != std::string::npos);
  CHECK(md.find("| none | 2 | 0.1 | 2 | 1 | 0 |") != std::string::npos);  // the diverged run is shown
  CHECK(md.find("| none | 8 | 0.1 | 2 | 0 | 1 |") != std::string::npos);  // the failed one too
  CHECK(md.find("normlab sweep experiments/synth.json --profile quick --out " + sweep.dir.string()) != std::string::npos);
  CHECK(md.find("**Question.** Does the report read a sweep back?") != std::string::npos);
  CHECK(md.find("BatchNorm: eval mode vs batch statistics") != std::string::npos);
  CHECK(md.find("Figures skipped") != std::string::npos);
  CHECK(md.find("gnuplot not found") != std::string::npos);
  CHECK(md.find("bn.batch_size-2.lr-0.1") != std::string::npos);  // the tuned choice is named

  const std::string html = slurp(r.html_path);
  INFO(html_problem(html));
  CHECK(html_problem(html).empty());
  CHECK(html.find("<td class=\"v-holds\">holds</td>") != std::string::npos);
  CHECK(html.find("<td class=\"v-does-not-hold\">does not hold</td>") != std::string::npos);
  CHECK(html.find("<td>LayerNorm</td><td>2</td><td>0.01</td><td>3</td><td>0</td><td>0</td><td>0.8500 ± 0.0248</td>") !=
        std::string::npos);
  CHECK(html.find("<img") == std::string::npos);
  // No SVG without gnuplot, but the data and scripts to render them later are there.
  int svg = 0, gp = 0, dat = 0;
  for (const auto& e : fs::directory_iterator(sweep.dir / "figures")) {
    svg += e.path().extension() == ".svg";
    gp += e.path().extension() == ".gp";
    dat += e.path().extension() == ".dat";
  }
  CHECK(svg == 0);
  CHECK(gp == static_cast<int>(r.figures_skipped.size()));
  CHECK(dat == gp);
}

TEST_CASE("report with an empty gnuplot setting skips figures and says so", "[lab][report]") {
  test::SyntheticSweep sweep("report_emptygnuplot");
  const ReportResult r = write_report(quiet_options(sweep.dir, ""));
  REQUIRE_FALSE(r.figures_skipped.empty());
  CHECK(r.figures_skipped[0].find("gnuplot not set") != std::string::npos);
  CHECK(fs::exists(r.html_path));
}

TEST_CASE("report with gnuplot renders SVG figures and inlines them in the html", "[lab][report]") {
  if (!program_available("gnuplot")) {
    WARN("gnuplot is not on PATH: figure rendering not tested");
    return;
  }
  test::SyntheticSweep sweep("report_gnuplot");
  const ReportResult r = write_report(quiet_options(sweep.dir, "gnuplot"));
  INFO((r.figures_skipped.empty() ? "" : r.figures_skipped[0]));
  CHECK(r.figures_skipped.empty());
  REQUIRE(r.figures_written >= 2);
  int svg = 0;
  for (const auto& e : fs::directory_iterator(sweep.dir / "figures"))
    if (e.path().extension() == ".svg") {
      ++svg;
      CHECK(slurp(e.path()).find("<svg") != std::string::npos);
    }
  CHECK(svg == r.figures_written);
  const std::string html = slurp(r.html_path);
  INFO(html_problem(html));
  CHECK(html_problem(html).empty());
  CHECK(count(html, "src=\"data:image/svg+xml;base64,") == static_cast<size_t>(r.figures_written));
  const std::string md = slurp(r.markdown_path);
  CHECK(md.find("](figures/synth-batch_size.svg)") != std::string::npos);
  CHECK(md.find("Figures skipped") == std::string::npos);
}

TEST_CASE("report prints the claims and compact cell tables within 100 columns", "[lab][report]") {
  test::SyntheticSweep sweep("report_terminal");
  std::ostringstream out;
  ReportOptions o = quiet_options(sweep.dir, "");
  o.print_summary = true;
  o.out = &out;
  const ReportResult r = write_report(o);
  const std::string text = out.str();
  for (const char* s : {"S.holds", "S.nothold", "S.inconc", "holds", "does not hold", "inconclusive", "synth: Synthetic",
                        "LayerNorm", "0.8500 ± 0.0248"})
    CHECK(text.find(s) != std::string::npos);
  CHECK(text.find(r.markdown_path) != std::string::npos);
  CHECK(text.find(r.html_path) != std::string::npos);
  CHECK(text.find("val accuracy") == std::string::npos);  // compact: primary metric only
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t width = 0;
    for (unsigned char c : line) width += (c & 0xC0) != 0x80;
    INFO(line);
    CHECK(width <= 100);
  }
}

TEST_CASE("normlab report writes the report and exits 2 on a missing folder", "[lab][report][cli]") {
  test::SyntheticSweep sweep("report_cli");
  const fs::path log = sweep.dir / "cli.txt";
  const std::string cli = NORMLAB_CLI_PATH;
  const int ok = std::system((cli + " report " + sweep.dir.string() + " --gnuplot '' > " + log.string() + " 2>&1").c_str());
  CHECK(WEXITSTATUS(ok) == 0);
  CHECK(fs::exists(sweep.dir / "report.md"));
  CHECK(fs::exists(sweep.dir / "report.html"));
  CHECK(slurp(log).find("S.holds") != std::string::npos);
  const int missing = std::system((cli + " report " + (sweep.dir / "nope").string() + " > " + log.string() + " 2>&1").c_str());
  CHECK(WEXITSTATUS(missing) == 2);
  CHECK(slurp(log).find("nope") != std::string::npos);
}
