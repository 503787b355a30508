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

// Allocates a gradient buffer shaped like `like`; zero-filled unless the caller overwrites.
Tensor new_grad(const Tensor& like, bool zero) {
  return zero ? Tensor::zeros(like.shape()) : Tensor::empty(like.shape());
}
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

// ---- nodes -----------------------------------------------------------------------------------
Node::Node(const char* name, std::vector<Tensor> inputs, BackwardFn fn)
    : name_(name), inputs_(std::move(inputs)), fn_(std::move(fn)) {
  needs_.resize(inputs_.size());
  for (size_t i = 0; i < inputs_.size(); ++i)
    needs_[i] = inputs_[i].defined() && inputs_[i].requires_grad();
  g_live_nodes.fetch_add(1, std::memory_order_relaxed);
}

Node::~Node() {
  // Unlink the chain below this node iteratively: a node whose last owner is us is emptied
  // here instead of in a nested destructor call.
  std::vector<std::shared_ptr<Node>> pending;
  auto collect = [&](std::vector<Tensor>& inputs) {
    for (Tensor& t : inputs) {
      if (t.defined() && t.impl_ptr().use_count() == 1) {
        std::shared_ptr<Node>& producer = t.impl()->grad_fn;
        if (producer && producer.use_count() == 1) pending.push_back(std::move(producer));
      }
      // Drop each handle at once, so that a second handle to the same tensor (an op that took
      // it twice, as in x*x) sees the true count and its producer is unlinked here as well.
      t = Tensor();
    }
    inputs.clear();
  };
  fn_ = nullptr;  // saved tensors captured by the closure may also hold chains
  collect(inputs_);
  while (!pending.empty()) {
    std::shared_ptr<Node> n = std::move(pending.back());
    pending.pop_back();
    n->fn_ = nullptr;
    collect(n->inputs_);
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
bool GradSink::needs(size_t i) const { return i < node_.needs_.size() && node_.needs_[i]; }

Tensor& GradSink::target(size_t i, bool* overwrite) {
  if (!needs(i)) throw AutogradError(std::string(node_.name_) + ": gradient of input " +
                                     std::to_string(i) + " requested but not needed");
  const Tensor& input = node_.inputs_[i];
  TensorImpl* impl = input.impl();
  if (handles_.size() < node_.inputs_.size()) handles_.resize(node_.inputs_.size());
  if (impl->grad_fn) {  // an intermediate: its producer's accumulator for this pass
    Tensor& g = impl->grad_fn->grad_;
    *overwrite = !g.defined();
    if (*overwrite) g = new_grad(input, false);
    handles_[i] = g;
  } else {  // a leaf: its .grad persists across backward calls (accumulates until zero_grad)
    *overwrite = impl->grad == nullptr;
    if (*overwrite) impl->grad = new_grad(input, false).impl_ptr();
    handles_[i] = Tensor(impl->grad);
  }
  return handles_[i];
}

Tensor& GradSink::grad(size_t i) {
  bool overwrite = false;
  Tensor& g = target(i, &overwrite);
  if (overwrite) std::memset(g.data(), 0, sizeof(float) * g.numel());
  return g;
}

void GradSink::add(size_t i, const Tensor& g) {
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
    if (next < node->inputs().size()) {
      const Tensor& in = node->inputs()[next++];
      if (in.defined() && in.requires_grad() && in.impl()->grad_fn) {
        const std::shared_ptr<Node>& child = in.impl()->grad_fn;
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
  // of any node of its own graph, so nothing accumulates into it), and sinks copy what they keep.
  root_impl->grad_fn->grad_ = grad_output;
  try {
    for (const std::shared_ptr<Node>& node : order) {
      if (!node->grad_.defined()) continue;  // no gradient flowed into this node
      GradSink sink(*node);
      node->fn_(node->grad_, sink);
      node->grad_ = Tensor();
      if (!retain_graph) {
        node->fn_ = nullptr;
        node->inputs_.clear();
        node->inputs_.shrink_to_fit();
      }
    }
  } catch (...) {
    // A failed pass must not leave half-accumulated gradients for the next one to add to.
    for (const std::shared_ptr<Node>& node : order) node->grad_ = Tensor();
    throw;
  }
}

}  // namespace nl
