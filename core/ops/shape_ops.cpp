// Shape ops: reshape and outer-axis slices are free views; transpose, permute, inner-axis
// slices, concat and stack materialise. Backward of each routes gradients to the right places.
#include <cstring>
#include <numeric>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {
namespace {

Shape infer_shape(const Tensor& a, const Shape& shape) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      if (infer >= 0) throw ShapeError("reshape: more than one -1 in " + shape_str(shape));
      infer = static_cast<int>(i);
    } else if (out[i] < 0) {
      throw ShapeError("reshape: negative extent in " + shape_str(shape));
    } else {
      known *= out[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || a.numel() % known != 0)
      throw ShapeError("reshape: cannot reshape " + shape_str(a.shape()) + " to " +
                       shape_str(shape));
    out[infer] = a.numel() / known;
  }
  if (shape_numel(out) != a.numel())
    throw ShapeError("reshape: cannot reshape " + shape_str(a.shape()) + " (" +
                     std::to_string(a.numel()) + " elements) to " + shape_str(shape));
  return out;
}

// A tensor sharing a's storage with a different shape/offset.
Tensor make_view(const Tensor& a, const Shape& shape, int64_t extra_offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = a.impl()->storage;
  impl->offset = a.impl()->offset + extra_offset;
  impl->shape = shape;
  return Tensor(impl);
}

}  // namespace

Tensor reshape(const Tensor& a, const Shape& shape) {
  Tensor out = make_view(a, infer_shape(a, shape), 0);
  if (needs_grad({&a})) {
    record(out, "reshape", {a}, [sa = a.shape()](const Tensor& d, GradSink& g) {
      g.add(0, make_view(d, sa, 0));
    });
  }
  return out;
}

Tensor slice(const Tensor& a, int64_t axis_in, int64_t start, int64_t end) {
  const int axis = shape_axis("slice", axis_in, a.dim());
  const int64_t n = a.size(axis);
  if (start < 0) start += n;
  if (end < 0) end += n;
  if (start < 0 || end > n || start > end)
    throw ShapeError("slice: range [" + std::to_string(start) + ", " + std::to_string(end) +
                     ") is out of bounds for axis " + std::to_string(axis) + " of shape " +
                     shape_str(a.shape()));
  Shape out_shape = a.shape();
  out_shape[axis] = end - start;
  const int64_t inner = shape_numel(Shape(a.shape().begin() + axis + 1, a.shape().end()));
  const int64_t outer = shape_numel(Shape(a.shape().begin(), a.shape().begin() + axis));
  Tensor out;
  if (outer == 1) {  // contiguous block: a free view
    out = make_view(a, out_shape, start * inner);
  } else {
    out = Tensor::empty(out_shape);
    const int64_t block = (end - start) * inner;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(out.data() + o * block, a.data() + o * n * inner + start * inner,
                  sizeof(float) * block);
  }
  if (needs_grad({&a})) {
    record(out, "slice", {a}, [=](const Tensor& d, GradSink& g) {
      Tensor& da = g.grad(0);
      const int64_t block = (end - start) * inner;
      for (int64_t o = 0; o < outer; ++o) {
        float* dst = da.data() + o * n * inner + start * inner;
        const float* src = d.data() + o * block;
        for (int64_t k = 0; k < block; ++k) dst[k] += src[k];
      }
    });
  }
  return out;
}

}  // namespace nl
