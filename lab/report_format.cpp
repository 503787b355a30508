// Text helpers shared by the report's writers (see lab/report_format.h).
#include "lab/report_format.h"

#include <cmath>
#include <cstdio>

namespace nl::lab::fmt {

std::string num(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  if (v != 0 && std::abs(v) < 1e-3) std::snprintf(buf, sizeof buf, "%.2e", v);
  else if (std::abs(v) >= 1e5) std::snprintf(buf, sizeof buf, "%.3e", v);
  else if (std::abs(v) >= 100) std::snprintf(buf, sizeof buf, "%.1f", v);
  else std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

std::string mean_ci(const CellStats& s) {
  if (s.n == 0) return "—";
  if (s.n == 1) return num(s.mean) + " (n=1)";
  return num(s.mean) + " ± " + num((s.ci_high - s.ci_low) / 2);
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string axis_header(const std::string& key) {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

std::vector<std::string> cell_axes(const ExperimentResults& er) {
  std::vector<std::string> axes;
  auto add = [&](const std::string& k) {
    if (k == "seed") return;
    for (const std::string& a : axes)
      if (a == k) return;
    axes.push_back(k);
  };
  for (const GridAxis& a : er.spec.grid) add(a.key);
  for (const CellResult& c : er.cells)
    for (auto it = c.cell.begin(); it != c.cell.end(); ++it) add(it.key());
  return axes;
}

std::string axis_value(const ExperimentSpec& spec, const json& cell, const std::string& axis) {
  if (!cell.contains(axis)) return "";
  const json& v = cell[axis];
  if (axis == "variant" && v.is_string())
    if (const Variant* var = spec.find_variant(v.get<std::string>())) return var->label;
  return value_text(v);
}

std::string cell_label(const ExperimentResults& er, const json& cell, const std::vector<std::string>& axes) {
  const std::vector<std::string> all = axes.empty() ? cell_axes(er) : axes;
  std::string out;
  for (const std::string& a : all) {
    if (!cell.contains(a)) continue;
    if (!out.empty()) out += ", ";
    out += a == "variant" ? axis_value(er.spec, cell, a) : axis_header(a) + "=" + axis_value(er.spec, cell, a);
  }
  return out.empty() ? "(all runs)" : out;
}

const CellResult* find_cell(const ExperimentResults& er, const std::string& cell_id) {
  for (const CellResult& c : er.cells)
    if (c.cell_id == cell_id) return &c;
  return nullptr;
}

std::string verdict_text(const ClaimOutcome& c) {
  std::string s = to_string(c.verdict.verdict);
  if (c.verdict.verdict == Verdict::inconclusive) {
    if (c.verdict.seeds_needed > 0)
      s += " (≈ " + std::to_string(c.verdict.seeds_needed) + (c.verdict.d.paired ? " paired seeds" : " seeds per side") +
           " needed)";
    else if (!c.verdict.note.empty()) s += " (" + c.verdict.note + ")";
  }
  return s;
}

std::string ci_text(const Difference& d) {
  return std::isfinite(d.ci_low) ? "[" + num(d.ci_low) + ", " + num(d.ci_high) + "]" : "";
}

namespace {

std::string interval_text(const Difference& d) {
  if (!std::isfinite(d.diff)) return "n/a";
  const std::string ci = ci_text(d);
  return (d.diff > 0 ? "+" : "") + num(d.diff) + (ci.empty() ? "" : " " + ci);
}

}  // namespace

std::string difference_text(const ClaimOutcome& c) { return interval_text(c.verdict.d); }

std::string n_text(const ClaimOutcome& c) {
  if (c.verdict.d.paired) return std::to_string(c.verdict.d.n_a) + " pairs";
  return std::to_string(c.verdict.d.n_a) + " / " + std::to_string(c.verdict.d.n_b);
}

std::string paired_text(const ClaimOutcome& c) {
  const Difference& d = c.paired.d;
  const std::string seeds = std::to_string(d.n_a) + (d.n_a == 1 ? " seed" : " seeds");
  if (d.n_a < 2) return "n/a (" + seeds + ")";
  return interval_text(d) + ", " + seeds;
}

size_t display_width(const std::string& s) {
  size_t n = 0;
  for (unsigned char ch : s)
    if ((ch & 0xC0) != 0x80) ++n;
  return n;
}

std::string clip(const std::string& s, size_t width) {
  if (display_width(s) <= width) return s;
  std::string out;
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(s[i]);
    if ((ch & 0xC0) != 0x80) {
      if (n + 1 >= width) break;
      ++n;
    }
    out += s[i];
  }
  return out + "…";
}

}  // namespace nl::lab::fmt
