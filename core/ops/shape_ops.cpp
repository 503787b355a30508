// Shape ops: reshape and outer-axis slices are free views; transpose, permute, inner-axis
// slices, concat and stack materialise. Backward of each routes gradients to the right places.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/ops/broadcast.h"
#include "core/threading.h"

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

// ---- permute / transpose ---------------------------------------------------------------------
namespace {

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

// out[i_0..i_r] = a[j] with j the input index whose axis dims[k] is i_k. a: any shape.
Tensor permute_kernel(const Tensor& a, const std::vector<int>& dims) {
  const int r = a.dim();
  const auto in_strides = contiguous_strides(a.shape());
  Shape out_shape(r);
  std::vector<int64_t> src(r);  // input stride along each output axis
  for (int k = 0; k < r; ++k) {
    out_shape[k] = a.shape()[dims[k]];
    src[k] = in_strides[dims[k]];
  }
  Tensor out = Tensor::empty(out_shape);
  const float* pa = a.data();
  float* po = out.data();
  if (out.numel() == 0) return out;
  if (r <= 1) {
    std::memcpy(po, pa, sizeof(float) * out.numel());
    return out;
  }
  // Parallel over the leading output axis; inside, runs of the last output axis (a contiguous
  // copy when the last axis stays last, a strided gather otherwise).
  const Shape rest(out_shape.begin() + 1, out_shape.end());
  const std::vector<int64_t> srest(src.begin() + 1, src.end());
  const int64_t block = shape_numel(rest);
  parallel_for(out_shape[0], kGrainCheap / (block + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i) {
      float* dst = po + i * block;
      const float* base = pa + i * src[0];
      detail::for_each_run(rest, srest, srest,
                           [&](int64_t o, int64_t m, int64_t, int64_t len, int64_t dm, int64_t) {
                             for (int64_t k = 0; k < len; ++k) dst[o + k] = base[m + k * dm];
                           });
    }
  });
  return out;
}

}  // namespace

Tensor permute(const Tensor& a, const std::vector<int64_t>& dims_in) {
  if (!a.defined()) throw ShapeError("permute: called with an undefined tensor");
  const int r = a.dim();
  if (static_cast<int>(dims_in.size()) != r)
    throw ShapeError("permute: dims " + dims_str(dims_in) + " do not match the rank of shape " +
                     shape_str(a.shape()));
  std::vector<int> dims(r), inverse(r, -1);
  for (int k = 0; k < r; ++k) {
    const int64_t d = dims_in[k] < 0 ? dims_in[k] + r : dims_in[k];
    if (d < 0 || d >= r || inverse[d] >= 0)
      throw ShapeError("permute: dims " + dims_str(dims_in) + " are not a permutation of the "
                       "axes of shape " + shape_str(a.shape()));
    dims[k] = static_cast<int>(d);
    inverse[d] = k;
  }
  Tensor out = permute_kernel(a, dims);
  if (needs_grad({&a})) {
    record(out, "permute", {a}, [inverse](const Tensor& d, GradSink& g) {
      g.add(0, permute_kernel(d, inverse));
    });
  }
  return out;
}

Tensor transpose(const Tensor& a, int64_t axis0, int64_t axis1) {
  if (!a.defined()) throw ShapeError("transpose: called with an undefined tensor");
  const int i = shape_axis("transpose", axis0, a.dim());
  const int j = shape_axis("transpose", axis1, a.dim());
  std::vector<int64_t> dims(a.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[i], dims[j]);
  return permute(a, dims);
}

// ---- concat / stack --------------------------------------------------------------------------
// All inputs share every extent but `axis`; viewed as (outer, n_i * inner) blocks that are
// laid side by side in the output. Backward: each input takes back its own blocks.
Tensor concat(const std::vector<Tensor>& tensors, int64_t axis_in) {
  if (tensors.empty()) throw ShapeError("concat: needs at least one tensor");
  for (const Tensor& t : tensors)
    if (!t.defined()) throw ShapeError("concat: called with an undefined tensor");
  const Tensor& first = tensors[0];
  if (first.dim() == 0) throw ShapeError("concat: cannot concatenate scalars (shape ())");
  const int axis = shape_axis("concat", axis_in, first.dim());
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (const Tensor& t : tensors) {
    bool ok = t.dim() == first.dim();
    for (int k = 0; ok && k < first.dim(); ++k)
      ok = k == axis || t.shape()[k] == first.shape()[k];
    if (!ok)
      throw ShapeError("concat: shapes " + shape_str(first.shape()) + " and " +
                       shape_str(t.shape()) + " differ outside axis " + std::to_string(axis));
    out_shape[axis] += t.shape()[axis];
  }
  const int64_t outer = shape_numel(Shape(out_shape.begin(), out_shape.begin() + axis));
  const int64_t inner = shape_numel(Shape(out_shape.begin() + axis + 1, out_shape.end()));
  const int64_t row = out_shape[axis] * inner;  // output elements per outer index
  Tensor out = Tensor::empty(out_shape);
  float* po = out.data();
  std::vector<int64_t> widths;  // n_i * inner for each input
  for (const Tensor& t : tensors) widths.push_back(t.shape()[axis] * inner);
  parallel_for(outer, kGrainCheap / (row + 1) + 1, [&](int64_t s, int64_t e) {
    for (int64_t o = s; o < e; ++o) {
      int64_t off = 0;
      for (size_t i = 0; i < tensors.size(); ++i) {
        if (widths[i])
          std::memcpy(po + o * row + off, tensors[i].data() + o * widths[i],
                      sizeof(float) * widths[i]);
        off += widths[i];
      }
    }
  });
  if (needs_grad(tensors)) {
    record(out, "concat", tensors, [widths, outer, row](const Tensor& d, GradSink& g) {
      const float* pd = d.data();
      int64_t off = 0;
      for (size_t i = 0; i < widths.size(); ++i) {
        const int64_t w = widths[i];
        if (g.needs(i)) {
          bool fresh = false;
          Tensor& dst = g.target(i, &fresh);
          float* pg = dst.data();
          for (int64_t o = 0; o < outer; ++o) {
            const float* src = pd + o * row + off;
            float* to = pg + o * w;
            if (fresh)
              for (int64_t k = 0; k < w; ++k) to[k] = src[k];
            else
              for (int64_t k = 0; k < w; ++k) to[k] += src[k];
          }
        }
        off += w;
      }
    });
  }
  return out;
}

// stack = concat of the inputs each given a new axis of extent 1 at `axis` (a free view).
Tensor stack(const std::vector<Tensor>& tensors, int64_t axis_in) {
  if (tensors.empty()) throw ShapeError("stack: needs at least one tensor");
  for (const Tensor& t : tensors) {
    if (!t.defined()) throw ShapeError("stack: called with an undefined tensor");
    if (t.shape() != tensors[0].shape())
      throw ShapeError("stack: shapes " + shape_str(tensors[0].shape()) + " and " +
                       shape_str(t.shape()) + " differ (all inputs must have the same shape)");
  }
  const int axis = shape_axis("stack", axis_in, tensors[0].dim() + 1);
  Shape unsq = tensors[0].shape();
  unsq.insert(unsq.begin() + axis, 1);
  std::vector<Tensor> views;
  views.reserve(tensors.size());
  for (const Tensor& t : tensors) views.push_back(reshape(t, unsq));
  return concat(views, axis);
}

}  // namespace nl
