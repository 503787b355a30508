// Reverse-mode autograd: every differentiable op records a Node on its output; backward()
// walks the nodes in reverse topological order (iteratively, never by recursion).
//
// The backward contract (every op's backward follows it):
//  1. A backward function receives d(loss)/d(output) and *adds* into its inputs' gradients
//     through the GradSink; it never overwrites a gradient that may hold other contributions.
//     (GradSink::target() tells the function when it may overwrite a fresh buffer instead;
//     can_pass_on() and adopt_saved() when it may write an input's gradient over its own
//     incoming gradient or over a saved input that nothing else will read, and hand that on.)
//  2. Inputs that need no gradient are skipped: check sink.needs(i) before computing one.
//  3. Every gradient has its input's shape: the sink allocates it that way.
//  4. A tensor used several times gets the sum of all contributions (follows from 1).
//  5. zero_grad is explicit: leaf gradients accumulate across backward calls until cleared.
//  6. After backward the graph is freed (saved tensors released) unless retain_graph is set;
//     a second backward through a freed graph throws AutogradError.
//  7. A backward function never captures its own output Tensor (that would be a cycle);
//     capture `out.detach()` when the output's values are needed.
#pragma once
#include <array>
#include <functional>
#include <initializer_list>
#include <vector>

#include "core/tensor.h"

namespace nl {

// Hands out the gradient buffers of a node's inputs during backward.
class GradSink {
 public:
  // graph_retained: the backward pass keeps the graph (retain_graph), so saved tensors will be
  // read again and must not be overwritten (adopt_saved).
  explicit GradSink(Node& node, bool graph_retained = true)
      : node_(node), graph_retained_(graph_retained) {}
  // Does input i need a gradient?
  bool needs(size_t i) const;
  // The gradient of input i to add into (zero-filled when first used).
  Tensor& grad(size_t i);
  // The gradient of input i; *overwrite is set when the buffer is fresh and uninitialised, in
  // which case the caller must write every element instead of adding.
  Tensor& target(size_t i, bool* overwrite);
  // Adds g (input i's shape) into input i's gradient (copies when the buffer is fresh; takes
  // g's buffer itself when g is this node's own gradient and the input is an intermediate).
  void add(size_t i, const Tensor& g);
  // Whether d, this node's incoming gradient, may be overwritten with input i's gradient and
  // handed on by add(i, d), which then takes its buffer: d is held by this node alone (no other
  // handle, no view of its storage) and input i is an intermediate of d's shape whose gradient
  // has not started. An elementwise backward then needs no fresh output buffer.
  bool can_pass_on(size_t i, const Tensor& d) const;
  // Input i's gradient written over a tensor this backward saved (one of the op's inputs, whose
  // values it reads for the last time now): when the graph is not retained, nothing else holds
  // saved's storage (no other tensor, no view), it has input i's shape and input i is an
  // intermediate whose gradient has not started, saved becomes input i's gradient buffer and is
  // returned, to be overwritten like a fresh target(); else nullptr. The caller must read every
  // value of saved it needs before writing over it (attention: a head's dQ, dK, dV over its Q, K,
  // V; the saved projection's lines are then in cache already, where a fresh buffer is not).
  Tensor* adopt_saved(size_t i, const Tensor& saved);

 private:
  bool shared_beyond_sink(const Tensor& g) const;
  bool producer_can_take(size_t i, const Tensor& g) const;
  Tensor& hand_to_producer(size_t i, const Tensor& g);
  bool takes_own_gradient(size_t i, const Tensor& g) const;
  Node& node_;
  bool graph_retained_;
  std::vector<Tensor> handles_;  // stable references to the buffers handed out
};

// Where one input's gradient goes. A node keeps this, not the input tensor itself: holding the
// tensor would keep its storage alive until the graph is freed, although a backward function
// that needs an input's values captures them itself (PyTorch's saved tensors; an add or a GELU
// that saved its slope needs none). Inputs that need no gradient keep neither pointer.
struct Edge {
  std::shared_ptr<Node> producer;    // an intermediate: the node whose grad_ this input is
  std::shared_ptr<TensorImpl> leaf;  // a leaf that requires grad: its .grad accumulates
  bool needs_grad() const { return producer || leaf; }

  // The input's shape, which its gradient buffer takes. Kept inline up to 4 axes: a Shape
  // member would be one more heap block per edge on every training step.
  void set_shape(const Shape& shape);
  Shape shape() const;

 private:
  static constexpr int kInlineAxes = 4;
  std::array<int64_t, kInlineAxes> axes_{};
  int rank_ = 0;
  Shape wide_;  // only for a rank above kInlineAxes
};

class Node {
 public:
  using BackwardFn = std::function<void(const Tensor& dout, GradSink& sink)>;
  Node(const char* name, const std::vector<Tensor>& inputs, BackwardFn fn);
  ~Node();  // releases long chains iteratively (no deep recursion of destructors)

  const char* name() const { return name_; }
  const std::vector<Edge>& edges() const { return edges_; }
  bool released() const { return !fn_; }

 private:
  friend class GradSink;
  friend void run_backward(const Tensor&, const Tensor&, bool);
  const char* name_;
  std::vector<Edge> edges_;  // one per input, in the op's input order
  BackwardFn fn_;
  Tensor grad_;  // d(loss)/d(output), accumulated during one backward pass
  uint64_t visited_in_ = 0;  // the last backward pass whose traversal reached this node
};

// Is gradient recording on (thread-local)? Off inside a NoGradGuard.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when recording is on and at least one input requires a gradient.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Attaches a node to `out` (marks it requires_grad) when needs_grad(inputs); otherwise does
// nothing. Use: if (needs_grad({&a, &b})) record(out, "mul", {a, b}, [a, b](...) {...});
void record(Tensor& out, const char* name, std::vector<Tensor> inputs, Node::BackwardFn fn);

// The engine behind Tensor::backward.
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph);

// Number of live Node objects (for tests that check the graph is freed).
int64_t live_nodes();

}  // namespace nl
