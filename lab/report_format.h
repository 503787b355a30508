// Text helpers shared by the report's writers (markdown, HTML, terminal, figure legends):
// number formatting, "mean ± half-width" cells, a cell's axis values and label, and a claim's
// verdict in words. Internal to lab/report*.cpp and lab/figures.cpp.
#pragma once
#include <string>
#include <vector>

#include "lab/results.h"

namespace nl::lab::fmt {

std::string num(double v);                        // 4 significant digits, "n/a" when not finite
std::string mean_ci(const CellStats& s);          // "0.8412 ± 0.0123" ("0.84 (n=1)", "—" for n=0)
std::string value_text(const json& v);            // strings without quotes
std::string axis_header(const std::string& key);  // "train.batch_size" -> "batch_size"

// The grid's non-seed axes in spec order (plus any axis only the cells carry).
std::vector<std::string> cell_axes(const ExperimentResults& er);
// One axis value of a cell for a table or legend (variants by their label).
std::string axis_value(const ExperimentSpec& spec, const json& cell, const std::string& axis);
// "LayerNorm, batch_size=2": every listed axis (all non-seed axes when `axes` is empty).
std::string cell_label(const ExperimentResults& er, const json& cell, const std::vector<std::string>& axes = {});
const CellResult* find_cell(const ExperimentResults& er, const std::string& cell_id);

std::string verdict_text(const ClaimOutcome& c);  // "holds", "inconclusive (≈ 12 seeds per side)", ...
std::string difference_text(const ClaimOutcome& c);  // "+0.0412 [0.0101, 0.0723]"
std::string n_text(const ClaimOutcome& c);           // "5 / 5" ("5 pairs" for a paired claim)
// "[0.0101, 0.0723]": a difference's 95 % interval; "" when it has none (n < 2).
std::string ci_text(const Difference& d);
// The paired-by-seed reading: "+0.0412 [0.0301, 0.0523], 5 seeds"; "n/a (1 seed)" below 2 seeds.
std::string paired_text(const ClaimOutcome& c);

// Cuts to `width` characters (UTF-8 aware), ending with "…" when cut.
std::string clip(const std::string& s, size_t width);
size_t display_width(const std::string& s);

}  // namespace nl::lab::fmt
