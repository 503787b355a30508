// Fixed-width tables and per-axis statistics for `normlab explain` (see explain_table.h).
#include "lab/explain_table.h"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/layernorm.h"

namespace nl::lab {

AxisStats bn_stats(const Tensor& x, const Tensor& mask, float eps) {
  const int64_t C = x.size(-1), R = x.numel() / C;
  std::vector<float> mean(C), lo(C), var(C), rstd(C);
  kernels::batchnorm_stats(x.data(), mask.defined() ? mask.data() : nullptr, R, C, eps,
                           mean.data(), lo.data(), var.data(), rstd.data());
  AxisStats s;
  for (int64_t c = 0; c < C; ++c) {
    s.mean.push_back(static_cast<double>(mean[c]) + lo[c]);
    s.std.push_back(1.0 / rstd[c]);
  }
  return s;
}

AxisStats ln_stats(const Tensor& x, int64_t width, float eps) {
  const int64_t R = x.numel() / width;
  std::vector<float> y(x.numel()), mean(R), lo(R), rstd(R);
  kernels::layernorm_forward(x.data(), nullptr, nullptr, R, width, 1, eps, y.data(), mean.data(),
                             lo.data(), rstd.data());
  AxisStats s;
  for (int64_t r = 0; r < R; ++r) {
    s.mean.push_back(static_cast<double>(mean[r]) + lo[r]);
    s.std.push_back(1.0 / rstd[r]);
  }
  return s;
}

std::string fixed(double value, int width, int prec) {
  const double unit = std::pow(10.0, -prec);
  if (std::abs(value) < 0.5 * unit) value = 0.0;  // no "-0.000"
  char buf[64];
  std::snprintf(buf, sizeof buf, "%*.*f", width, prec, value);
  return buf;
}

std::string pad(const std::string& text, int width) {
  if (static_cast<int>(text.size()) >= width) return text.substr(0, width);
  return text + std::string(width - text.size(), ' ');
}

std::string wrap(const std::string& text, int width, const std::string& indent) {
  std::istringstream words(text);
  std::string word, line = indent, out;
  bool empty = true;
  while (words >> word) {
    if (!empty && line.size() + 1 + word.size() > static_cast<size_t>(width)) {
      out += line + "\n";
      line = indent;
      empty = true;
    }
    line += (empty ? "" : " ") + word;
    empty = false;
  }
  if (!empty) out += line + "\n";
  return out;
}

void print_table(std::ostream& os, const Tensor& x, const TableSpec& spec) {
  const int64_t C = x.size(-1), R = x.numel() / C;
  if (static_cast<int64_t>(spec.row_labels.size()) != R ||
      static_cast<int64_t>(spec.col_labels.size()) != C)
    throw ShapeError("explain: table labels do not match " + shape_str(x.shape()));
  const bool right = !spec.right_names.empty();
  const std::string sep = " | ";
  std::string line = pad("", kLabelWidth);
  for (const auto& c : spec.col_labels) line += pad("", kCellWidth - static_cast<int>(c.size())) + c;
  if (right) {
    line += sep;
    for (const auto& n : spec.right_names)
      line += pad("", spec.right_width - static_cast<int>(n.size())) + n;
  }
  os << line << "\n";
  const float* px = x.data();
  for (int64_t r = 0; r < R; ++r) {
    line = pad(spec.row_labels[r], kLabelWidth);
    for (int64_t c = 0; c < C; ++c)
      line += fixed(px[r * C + c], kCellWidth);
    if (right) {
      line += sep;
      for (const auto& col : spec.right_columns) line += fixed(col[r], spec.right_width);
    }
    os << line << "\n";
  }
  if (!spec.bottom_rows.empty()) {
    os << std::string(kLabelWidth + C * kCellWidth, '-') << (right ? " +" : "") << "\n";
    for (size_t k = 0; k < spec.bottom_rows.size(); ++k) {
      line = pad(spec.bottom_names[k], kLabelWidth);
      for (int64_t c = 0; c < C; ++c) line += fixed(spec.bottom_rows[k][c], kCellWidth);
      os << line << "\n";
    }
  }
}

}  // namespace nl::lab
