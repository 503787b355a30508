#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {
namespace {
std::shared_ptr<TensorImpl> make_impl(Shape shape) {
  for (int64_t d : shape)
    if (d < 0) throw ShapeError("tensor: negative extent in shape " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape_numel(shape));
  impl->shape = std::move(shape);
  return impl;
}
}  // namespace

// ---- factories -------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& shape) { return Tensor(make_impl(shape)); }
Tensor Tensor::empty(Shape&& shape) { return Tensor(make_impl(std::move(shape))); }

Tensor Tensor::zeros(const Shape& shape) {
  Tensor t = empty(shape);
  if (t.numel()) std::memset(t.data(), 0, sizeof(float) * t.numel());
  return t;
}
Tensor Tensor::ones(const Shape& shape) { return full(shape, 1.0f); }
Tensor Tensor::full(const Shape& shape, float value) { return empty(shape).fill_(value); }
Tensor Tensor::scalar(float value) { return full({}, value); }

Tensor Tensor::arange(float start, float stop, float step) {
  if (step == 0.0f) throw ValueError("arange: step must be non-zero");
  const double count = std::ceil((static_cast<double>(stop) - start) / step);
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n});
  for (int64_t i = 0; i < n; ++i) t.data()[i] = start + step * static_cast<float>(i);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw ShapeError("from_vector: " + std::to_string(values.size()) +
                     " values do not fill shape " + shape_str(shape));
  Tensor t = empty(shape);
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::uniform(const Shape& shape, float lo, float hi, Rng& rng) {
  Tensor t = empty(shape);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = rng.uniform(lo, hi);
  return t;
}

Tensor Tensor::normal(const Shape& shape, float mean, float std, Rng& rng) {
  Tensor t = empty(shape);
  float* d = t.data();
  for (int64_t i = 0; i < t.numel(); ++i) d[i] = rng.normal(mean, std);
  return t;
}

// ---- shape and data --------------------------------------------------------------------------
int64_t Tensor::size(int64_t axis) const {
  return impl_->shape[shape_axis("size", axis, dim())];
}

std::vector<float> Tensor::to_vector() const { return std::vector<float>(data(), data() + numel()); }

float Tensor::item() const {
  if (numel() != 1)
    throw ShapeError("item: expected a one-element tensor, got shape " + shape_str(shape()));
  return data()[0];
}

int64_t Tensor::flat_index(std::initializer_list<int64_t> index) const {
  if (static_cast<int>(index.size()) != dim())
    throw ShapeError("at: " + std::to_string(index.size()) + " indices for a tensor of shape " +
                     shape_str(shape()));
  int64_t flat = 0;
  int axis = 0;
  for (int64_t i : index) {
    const int64_t extent = shape()[axis];
    if (i < 0 || i >= extent)
      throw ShapeError("at: index " + std::to_string(i) + " out of range for axis " +
                       std::to_string(axis) + " of shape " + shape_str(shape()));
    flat = flat * extent + i;
    ++axis;
  }
  return flat;
}

float Tensor::at(std::initializer_list<int64_t> index) const { return data()[flat_index(index)]; }
void Tensor::set(std::initializer_list<int64_t> index, float value) {
  data()[flat_index(index)] = value;
}

// ---- in-place --------------------------------------------------------------------------------
Tensor& Tensor::fill_(float value) {
  std::fill(data(), data() + numel(), value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  if (src.numel() != numel())
    throw ShapeError("copy_: source shape " + shape_str(src.shape()) +
                     " does not match destination shape " + shape_str(shape()));
  if (numel()) std::memmove(data(), src.data(), sizeof(float) * numel());
  return *this;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape());
  if (numel()) std::memcpy(t.data(), data(), sizeof(float) * numel());
  return t;
}

// ---- autograd --------------------------------------------------------------------------------
Tensor& Tensor::requires_grad_(bool on) {
  if (!is_leaf() && !on)
    throw AutogradError("requires_grad_(false) on a non-leaf tensor: use detach() instead");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && g.shape() != shape())
    throw ShapeError("set_grad: gradient shape " + shape_str(g.shape()) +
                     " does not match tensor shape " + shape_str(shape()));
  impl_->grad = g.defined() ? g.impl_ptr() : nullptr;
}
void Tensor::zero_grad() { impl_->grad = nullptr; }

void Tensor::backward(bool retain_graph) const {
  if (numel() != 1)
    throw AutogradError("backward: called without a gradient on a tensor of shape " +
                        shape_str(shape()) + "; pass the upstream gradient for non-scalars");
  run_backward(*this, Tensor::ones(shape()), retain_graph);
}
void Tensor::backward(const Tensor& grad_output, bool retain_graph) const {
  run_backward(*this, grad_output, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  return Tensor(impl);
}

// ---- shape ops delegate to ops.h -------------------------------------------------------------
Tensor Tensor::reshape(const Shape& s) const { return nl::reshape(*this, s); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return nl::transpose(*this, a, b); }
Tensor Tensor::slice(int64_t axis, int64_t start, int64_t end) const {
  return nl::slice(*this, axis, start, end);
}

// ---- printing --------------------------------------------------------------------------------
namespace {
void print_axis(std::ostream& os, const float* d, const Shape& s, size_t axis, int max_items,
                int indent) {
  const int64_t n = s[axis];
  const int64_t inner = shape_numel(Shape(s.begin() + axis + 1, s.end()));
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > max_items && i == max_items / 2) {
      os << "...";
      i = n - max_items / 2 - 1;
      if (axis + 1 < s.size()) os << ",\n" << std::string(indent + 1, ' ');
      else os << ", ";
      continue;
    }
    if (axis + 1 == s.size()) os << d[i];
    else print_axis(os, d + i * inner, s, axis + 1, max_items, indent + 1);
    if (i + 1 < n) {
      if (axis + 1 < s.size()) os << ",\n" << std::string(indent + 1, ' ');
      else os << ", ";
    }
  }
  os << "]";
}
}  // namespace

std::string Tensor::str(int max_per_axis) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << std::setprecision(5);
  os << "Tensor(";
  if (dim() == 0) os << data()[0];
  else print_axis(os, data(), shape(), 0, max_per_axis, 7);
  os << ", shape=" << shape_str(shape());
  if (requires_grad()) os << ", requires_grad";
  os << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace nl
