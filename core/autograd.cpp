#include "core/autograd.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "core/threading.h"

namespace nl {
namespace {
thread_local bool g_grad_enabled = true;
std::atomic<int64_t> g_live_nodes{0};

// Each backward pass has its own number; a node carries the number of the last pass that
// reached it, so the traversal needs no set of visited nodes (a hash set allocated one entry
// per node on every training step).
std::atomic<uint64_t> g_next_pass{1};

// The traversal's two lists, kept from one backward pass to the next on this thread, so a
// training step reuses their memory instead of growing them anew; `busy` gives a backward
// started from inside a backward function (none does today) lists of its own.
struct TraversalLists {
  std::vector<std::shared_ptr<Node>> order;
  std::vector<std::pair<std::shared_ptr<Node>, size_t>> stack;
  bool busy = false;
};

}  // namespace

// ---- grad mode -------------------------------------------------------------------------------
bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

// ---- edges -----------------------------------------------------------------------------------
void Edge::set_shape(const Shape& shape) {
  rank_ = static_cast<int>(shape.size());
  if (rank_ > kInlineAxes)
    wide_ = shape;
  else
    std::copy(shape.begin(), shape.end(), axes_.begin());
}

Shape Edge::shape() const {
  return rank_ > kInlineAxes ? wide_ : Shape(axes_.begin(), axes_.begin() + rank_);
}

// ---- nodes -----------------------------------------------------------------------------------
Node::Node(const char* name, const std::vector<Tensor>& inputs, BackwardFn fn)
    : name_(name), fn_(std::move(fn)) {
  edges_.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& in = inputs[i];
    if (!in.defined() || !in.requires_grad()) continue;
    Edge& e = edges_[i];
    e.set_shape(in.shape());
    if (in.impl()->grad_fn)
      e.producer = in.impl()->grad_fn;
    else
      e.leaf = in.impl_ptr();
  }
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() {
  // Unlink the chain below this node iteratively: a producer whose last owner is us is emptied
  // here instead of in a nested destructor call.
  std::vector<std::shared_ptr<Node>> pending;
  auto collect = [&](std::vector<Edge>& edges) {
    for (Edge& e : edges) {
      if (e.producer && e.producer.use_count() == 1)
        pending.push_back(std::move(e.producer));
      else  // dropped at once, so that a second edge to the same producer (an op that took
        e.producer.reset();  // one tensor twice, as in x*x) sees the true count and defers it
    }
    edges.clear();
  };
  fn_ = nullptr;  // saved tensors captured by the closure may also hold chains
  collect(edges_);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n->fn_ = nullptr;
    collect(n->edges_);
  }
  g_live_nodes.fetch_sub(1, std::memory_order_relaxed);
}

int64_t live_nodes() { return g_live_nodes.load(); }

void record(Tensor& out, const char* name, std::vector<Tensor> inputs, Node::BackwardFn fn) {
  if (!needs_grad(inputs)) return;
  out.impl()->grad_fn = std::make_shared<Node>(name, std::move(inputs), std::move(fn));
  out.impl()->requires_grad = true;
}

// ---- gradient sink ---------------------------------------------------------------------------
bool GradSink::needs(size_t i) const {
  return i < node_.edges_.size() && node_.edges_[i].needs_grad();
}

Tensor& GradSink::target(size_t i, bool* overwrite) {
  if (!needs(i)) throw AutogradError(std::string(node_.name_) + ": gradient of input " +
                                     std::to_string(i) + " requested but not needed");
  const Edge& edge = node_.edges_[i];
  if (handles_.size() < node_.edges_.size()) handles_.resize(node_.edges_.size());
  if (edge.producer) {  // an intermediate: its producer's accumulator for this pass
    Tensor& g = edge.producer->grad_;
    *overwrite = !g.defined();
    if (*overwrite) g = Tensor::empty(edge.shape());
    else if (shared_beyond_sink(g)) g = g.clone();  // copy-on-write: see add()
    handles_[i] = g;
  } else {  // a leaf: its .grad persists across backward calls (accumulates until zero_grad)
    TensorImpl* leaf = edge.leaf.get();
    *overwrite = leaf->grad == nullptr;
    if (*overwrite) leaf->grad = Tensor::empty(edge.shape()).impl_ptr();
    handles_[i] = Tensor(leaf->grad);
  }
  return handles_[i];
}

Tensor& GradSink::grad(size_t i) {
  bool overwrite = false;
  Tensor& g = target(i, &overwrite);
  if (overwrite) std::memset(g.data(), 0, sizeof(float) * g.numel());
  return g;
}

// Whether anything outside this sink holds the accumulator g besides its producer node: another
// producer or node it was shared with by add() below, or a caller's tensor.
bool GradSink::shared_beyond_sink(const Tensor& g) const {
  long held_here = 0;
  for (const Tensor& h : handles_) held_here += h.impl() == g.impl();
  return g.impl_ptr().use_count() > 1 + held_here;
}

// Whether buffer g (whole, no view of a larger storage) can become input i's gradient as it
// is: input i is an intermediate whose gradient has not started in this pass, of g's shape.
bool GradSink::producer_can_take(size_t i, const Tensor& g) const {
  if (!needs(i) || g.impl()->offset != 0 || g.impl()->storage.use_count() != 1) return false;
  const Edge& edge = node_.edges_[i];
  return edge.producer && !edge.producer->grad_.defined() && g.shape() == edge.shape();
}

Tensor& GradSink::hand_to_producer(size_t i, const Tensor& g) {
  if (handles_.size() < node_.edges_.size()) handles_.resize(node_.edges_.size());
  node_.edges_[i].producer->grad_ = g;
  handles_[i] = g;
  return handles_[i];
}

// Input i's first gradient is this node's own incoming gradient g (an add, a sub's first input,
// or an elementwise backward that wrote over it: can_pass_on): the producer takes the buffer
// itself instead of a copy (a residual add's backward copied 1 MB twice per add in the LM step,
// 0.86 % of it). Any later accumulation into a buffer shared so goes through target(), which
// copies it first while another node still holds it. Leaves never share: an optimiser scales a
// leaf's .grad in place.
bool GradSink::takes_own_gradient(size_t i, const Tensor& g) const {
  return g.impl() == node_.grad_.impl() && producer_can_take(i, g);
}

bool GradSink::can_pass_on(size_t i, const Tensor& d) const {
  // Beyond what add() needs to take the buffer: no handle but the node's own (the caller of
  // backward(grad) keeps the root's, which must not change under it).
  return takes_own_gradient(i, d) && d.impl_ptr().use_count() == 1;
}

Tensor* GradSink::adopt_saved(size_t i, const Tensor& saved) {
  // The op's own saved handle must be the only one; and a retained graph reads it again.
  if (graph_retained_ || !saved.defined() || saved.impl_ptr().use_count() != 1 ||
      !producer_can_take(i, saved))
    return nullptr;
  return &hand_to_producer(i, saved);
}

void GradSink::add(size_t i, const Tensor& g) {
  if (takes_own_gradient(i, g)) {
    hand_to_producer(i, g);
    return;
  }
  bool overwrite = false;
  Tensor& dst = target(i, &overwrite);
  if (g.shape() != dst.shape())
    throw ShapeError(std::string(node_.name_) + " backward: gradient shape " +
                     shape_str(g.shape()) + " does not match input shape " +
                     shape_str(dst.shape()));
  float* d = dst.data();
  const float* s = g.data();
  const int64_t n = dst.numel();
  if (overwrite) {
    if (n) std::memcpy(d, s, sizeof(float) * n);
  } else {
    parallel_for(n, kGrainCheap, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) d[k] += s[k];
    });
  }
}

// ---- the engine ------------------------------------------------------------------------------
void run_backward(const Tensor& root, const Tensor& grad_output, bool retain_graph) {
  if (!root.requires_grad())
    throw AutogradError("backward: the tensor does not require grad (no input to its "
                        "computation had requires_grad set, or it was computed under no_grad)");
  if (grad_output.shape() != root.shape())
    throw ShapeError("backward: gradient shape " + shape_str(grad_output.shape()) +
                     " does not match the tensor's shape " + shape_str(root.shape()));
  NoGradGuard no_grad;  // backward functions compute with plain tensors

  TensorImpl* root_impl = root.impl();
  if (!root_impl->grad_fn) {  // backward on a leaf: its gradient is the upstream gradient
    if (!root_impl->grad) root_impl->grad = Tensor::zeros(root.shape()).impl_ptr();
    Tensor g(root_impl->grad);
    float* d = g.data();
    const float* s = grad_output.data();
    for (int64_t k = 0; k < g.numel(); ++k) d[k] += s[k];
    return;
  }

  // Topological order by an iterative depth-first search (post-order), then reversed.
  // `order` owns the nodes: freeing a node's inputs below may drop the last other reference
  // to a node that is still to be visited.
  thread_local TraversalLists kept;
  TraversalLists own;
  TraversalLists& lists = kept.busy ? own : kept;
  lists.busy = true;
  std::vector<std::shared_ptr<Node>>& order = lists.order;
  auto& stack = lists.stack;
  struct Release {  // empties the lists (dropping the nodes) however this function exits
    TraversalLists& l;
    ~Release() {
      l.order.clear();
      l.stack.clear();
      l.busy = false;
    }
  } release{lists};
  const uint64_t pass = g_next_pass.fetch_add(1, std::memory_order_relaxed);
  stack.emplace_back(root_impl->grad_fn, 0);
  root_impl->grad_fn->visited_in_ = pass;
  while (!stack.empty()) {
    Node* node = stack.back().first.get();
    if (node->released())
      throw AutogradError(std::string("backward: the graph through '") + node->name() +
                          "' was already freed by an earlier backward (pass retain_graph=true "
                          "to backward twice)");
    size_t& next = stack.back().second;
    if (next < node->edges().size()) {
      const std::shared_ptr<Node>& child = node->edges()[next++].producer;
      if (child) {
        if (child->visited_in_ != pass) {
          child->visited_in_ = pass;
          stack.emplace_back(child, 0);
        }
      }
    } else {
      order.push_back(std::move(stack.back().first));
      stack.pop_back();
    }
  }
  std::reverse(order.begin(), order.end());

  // Shared, not copied: only the root's own backward reads it (as const; the root is no input
  // of any node of its own graph, so nothing accumulates into it); a sink that passes it on
  // unchanged shares it, and the caller's own handle makes any later accumulation copy it first.
  root_impl->grad_fn->grad_ = grad_output;
  try {
    for (const std::shared_ptr<Node>& node : order) {
      if (!node->grad_.defined()) continue;  // no gradient flowed into this node
      GradSink sink(*node, retain_graph);
      node->fn_(node->grad_, sink);
      node->grad_ = Tensor();
      if (!retain_graph) {
        node->fn_ = nullptr;
        node->edges_.clear();
        node->edges_.shrink_to_fit();
      }
    }
  } catch (...) {
    // A failed pass must not leave half-accumulated gradients for the next one to add to.
    for (const std::shared_ptr<Node>& node : order) node->grad_ = Tensor();
    throw;
  }
}

}  // namespace nl
