// Tensor: float32, contiguous row-major, a shape over shared storage + an offset. A Tensor is
// a cheap handle (shared pointer); copies alias the same data. Views exist only where they
// are free (reshape, slices of the outermost axis); everything else materialises.
// Autograd state (requires_grad, grad, grad_fn) lives on the same object; see autograd.h.
#pragma once
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/shape.h"
#include "core/storage.h"

namespace nl {

class Node;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;     // the op that produced this tensor (null for leaves)
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories --------------------------------------------------------------------------
  static Tensor empty(const Shape& shape);  // uninitialised
  static Tensor empty(Shape&& shape);       // the same, keeping the given shape's memory
  static Tensor zeros(const Shape& shape);
  static Tensor ones(const Shape& shape);
  static Tensor full(const Shape& shape, float value);
  static Tensor scalar(float value);  // shape {}
  static Tensor arange(float start, float stop, float step = 1.0f);
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  static Tensor uniform(const Shape& shape, float lo, float hi, Rng& rng);
  static Tensor normal(const Shape& shape, float mean, float std, Rng& rng);
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape()); }
  static Tensor empty_like(const Tensor& t) { return empty(t.shape()); }

  // ---- shape and data ---------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int dim() const { return static_cast<int>(impl_->shape.size()); }
  int64_t size(int64_t axis) const;  // negative axes count from the end
  int64_t numel() const { return shape_numel(impl_->shape); }
  float* data() { return impl_->storage->data() + impl_->offset; }
  const float* data() const { return impl_->storage->data() + impl_->offset; }
  std::vector<float> to_vector() const;
  float item() const;  // the value of a one-element tensor
  // Element access by full index (bounds-checked; for tests and printing, not for kernels).
  float at(std::initializer_list<int64_t> index) const;
  void set(std::initializer_list<int64_t> index, float value);

  // ---- in-place (no autograd; for initialisers and optimizers) ------------------------------
  Tensor& fill_(float value);
  Tensor& copy_(const Tensor& src);  // same numel; throws ShapeError otherwise
  Tensor clone() const;               // a new tensor with its own copy of the data, no graph

  // ---- autograd (see autograd.h for the backward contract) ---------------------------------
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  Tensor grad() const;  // undefined until a backward pass reached this leaf
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the accumulated gradient
  // Backward from a one-element tensor (gradient 1), or with an explicit upstream gradient.
  void backward(bool retain_graph = false) const;
  void backward(const Tensor& grad_output, bool retain_graph = false) const;
  // The same data, cut from the graph (no grad_fn, requires_grad false).
  Tensor detach() const;
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }

  // ---- shape ops (methods for convenience; free functions in ops.h) ------------------------
  Tensor reshape(const Shape& shape) const;  // one extent may be -1
  Tensor view(const Shape& shape) const { return reshape(shape); }
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor slice(int64_t axis, int64_t start, int64_t end) const;

  std::string str(int max_per_axis = 6) const;
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

 private:
  int64_t flat_index(std::initializer_list<int64_t> index) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace nl
