// Shapes: a small vector of extents, with helpers for printing, counting and broadcasting.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nl {

using Shape = std::vector<int64_t>;

// "(2, 3, 4)"
std::string shape_str(const Shape& s);
// Product of extents (1 for a scalar shape {}).
int64_t shape_numel(const Shape& s);
// Normalise a possibly negative axis against rank `rank`; throws ShapeError naming `op`.
int shape_axis(const char* op, int64_t axis, int rank);
// NumPy broadcasting of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);
// Row-major strides (in elements) of a contiguous tensor of shape `s`.
std::vector<int64_t> contiguous_strides(const Shape& s);

}  // namespace nl
