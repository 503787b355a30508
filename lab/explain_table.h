// Fixed-width text tables for `normlab explain`: a matrix with row labels, optional per-row
// statistics printed as columns to its right (LayerNorm's) and per-column statistics printed
// as rows under it (BatchNorm's), and the per-axis statistics themselves, read from the
// library's own norm kernels (layers/kernels/), not recomputed by a separate formula.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nl::lab {

// One statistic per group: the mean and the std each norm layer divides by, √(var + eps)
// with the biased variance (1 / the kernels' rstd).
struct AxisStats {
  std::vector<double> mean, std;
};

// BatchNorm's statistics of x viewed as (R, C): one per column, over the rows whose mask
// entry is nonzero (all rows when mask is undefined). kernels::batchnorm_stats.
AxisStats bn_stats(const Tensor& x, const Tensor& mask = Tensor(), float eps = 1e-5f);
// LayerNorm's statistics of x viewed as (R, C) with C = `width` trailing elements: one per
// row. kernels::layernorm_forward.
AxisStats ln_stats(const Tensor& x, int64_t width, float eps = 1e-5f);

// `value` right-aligned in `width` characters with `prec` decimals ("-0.000" printed as 0).
std::string fixed(double value, int width = 8, int prec = 3);
// `text` padded (left-aligned) or cut to `width` characters.
std::string pad(const std::string& text, int width);
// `text` word-wrapped to lines of at most `width` characters, each line starting with `indent`.
std::string wrap(const std::string& text, int width = 80, const std::string& indent = "");

struct TableSpec {
  std::vector<std::string> row_labels;             // one per row of x
  std::vector<std::string> col_labels;             // one per column of x
  std::vector<std::string> right_names;            // headers of the right-hand stat columns
  std::vector<std::vector<double>> right_columns;  // each one value per row
  std::vector<std::string> bottom_names;           // labels of the stat rows under the table
  std::vector<std::vector<double>> bottom_rows;    // each one value per column
  int right_width = 9;                             // characters per right-hand column
};
constexpr int kLabelWidth = 10;  // row label column
constexpr int kCellWidth = 8;    // every number column

// Prints x (R, C) with the spec's labels and statistics, every line at most
// kLabelWidth + C*kCellWidth + 3 + right columns*right_width characters.
void print_table(std::ostream& os, const Tensor& x, const TableSpec& spec);

}  // namespace nl::lab
