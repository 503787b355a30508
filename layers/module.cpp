// Module base: registration, dotted traversal, train/eval propagation, state dicts, printing.
#include "layers/module.h"

#include <set>
#include <unordered_set>

#include "core/config_reader.h"
#include "core/error.h"

namespace nl {

Tensor Module::forward(const Tensor&) {
  throw ValueError(type_name() + " does not take a single tensor input; call its own methods");
}
Tensor Module::forward_masked(const Tensor& x, const Tensor&) { return forward(x); }

// ---- registration ------------------------------------------------------------------------------
// Names become path segments of "a.b.c", so they must be non-empty, dot-free and unique
// across parameters, buffers and children (else two tensors could share a state-dict key).
void Module::check_new_name(const char* what, const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(type_name() + ": " + what + " name '" + name +
                     "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  if (taken(params_) || taken(buffers_) || taken(children_))
    throw ValueError(type_name() + ": " + what + " '" + name + "' is registered twice");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name("parameter", name);
  if (!t.defined()) throw ValueError(type_name() + ": parameter '" + name + "' is undefined");
  if (!t.is_leaf())
    throw ValueError(type_name() + ": parameter '" + name +
                     "' is the output of an op; register a leaf (use detach() or clone())");
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name("buffer", name);
  if (!t.defined()) throw ValueError(type_name() + ": buffer '" + name + "' is undefined");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name("child module", name);
  if (!m) throw ValueError(type_name() + ": child module '" + name + "' is null");
  // A module that (indirectly) contains itself would make every traversal loop forever.
  for (const auto& [_, sub] : m->named_modules())
    if (sub == this)
      throw ValueError(type_name() + ": child module '" + name + "' contains its parent");
  m->train(training_);
  children_.emplace_back(name, std::move(m));
}

// ---- traversal ---------------------------------------------------------------------------------
// Depth-first over an explicit stack (no recursion; trees are shallow, but the rule is global).
std::vector<std::pair<std::string, const Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  std::vector<std::pair<std::string, const Module*>> stack{{"", this}};
  while (!stack.empty()) {
    auto [prefix, m] = stack.back();
    stack.pop_back();
    out.emplace_back(prefix, m);
    // Push children in reverse so they pop in registration order.
    for (auto it = m->children_.rbegin(); it != m->children_.rend(); ++it)
      stack.emplace_back(prefix.empty() ? it->first : prefix + "." + it->first, it->second.get());
  }
  return out;
}

void Module::collect(const std::string& prefix, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  std::unordered_set<const TensorImpl*> seen;
  for (const auto& [path, m] : named_modules()) {
    const std::string base = prefix + (path.empty() ? "" : path + ".");
    for (const auto& [n, t] : buffers ? m->buffers_ : m->params_)
      if (seen.insert(t.impl()).second) out.emplace_back(base + n, t);
  }
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& t : parameters()) n += t.numel();
  return n;
}

void Module::reset_parameters(Rng& rng) {
  reset_parameters();
  for (auto& [_, child] : children_) child->reset_parameters(rng);
}

// ---- mode ----------------------------------------------------------------------------------------
void Module::train(bool on) {
  const bool changed = training_ != on;
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
  if (changed) on_mode_change();
}

void Module::zero_grad() {
  for (Tensor& t : parameters()) t.zero_grad();
}

// ---- checkpoints -------------------------------------------------------------------------------
std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  // Pass 1: match and check everything; pass 2: copy. A bad state leaves the module intact.
  std::vector<std::pair<Tensor, Tensor>> copies;  // (destination, source)
  std::set<std::string> used;
  auto match = [&](const std::vector<std::pair<std::string, Tensor>>& mine) {
    for (const auto& [n, t] : mine) {
      auto it = state.find(n);
      if (it == state.end()) {
        if (strict) throw ValueError("load_state_dict: '" + n + "' is missing from the state");
        continue;
      }
      if (!it->second.defined())
        throw ValueError("load_state_dict: '" + n + "' is undefined in the state");
      if (it->second.shape() != t.shape())
        throw ShapeError("load_state_dict: '" + n + "' has shape " + shape_str(it->second.shape()) +
                         " in the state but " + shape_str(t.shape()) + " in the module");
      copies.emplace_back(t, it->second);
      used.insert(n);
    }
  };
  match(named_parameters());
  match(named_buffers());
  if (strict)
    for (const auto& [n, _] : state)
      if (!used.count(n)) {
        std::vector<std::string> keys;
        for (const auto& [k, _t] : state_dict()) keys.push_back(k);
        throw ValueError("load_state_dict: unexpected key '" + n + "' in the state" +
                         did_you_mean(n, keys));
      }
  for (auto& [dst, src] : copies) {
    if (dst.same(src)) continue;
    Tensor d = dst;
    d.copy_(src);
  }
}

// ---- printing ------------------------------------------------------------------------------------
void Module::print_into(std::string& out, int indent) const {
  out += type_name() + "(" + extra_repr();
  if (children_.empty()) {
    out += ")";
    return;
  }
  out += "\n";
  for (const auto& [n, child] : children_) {
    out += std::string(indent + 2, ' ') + "(" + n + "): ";
    child->print_into(out, indent + 2);
    out += "\n";
  }
  out += std::string(indent, ' ') + ")";
}

std::string Module::print() const {
  std::string out;
  print_into(out, 0);
  return out;
}

}  // namespace nl
