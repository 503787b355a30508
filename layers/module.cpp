#include "layers/module.h"

#include <set>

#include "core/error.h"

namespace nl {

Tensor Module::forward(const Tensor&) {
  throw ValueError(type_name() + " does not take a single tensor input; call its own methods");
}
Tensor Module::forward_masked(const Tensor& x, const Tensor&) { return forward(x); }

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  for (auto& [n, _] : params_)
    if (n == name) throw ValueError(type_name() + ": parameter '" + name + "' registered twice");
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  for (auto& [n, _] : buffers_)
    if (n == name) throw ValueError(type_name() + ": buffer '" + name + "' registered twice");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  if (!m) throw ValueError(type_name() + ": child module '" + name + "' is null");
  for (auto& [n, _] : children_)
    if (n == name) throw ValueError(type_name() + ": child module '" + name + "' registered twice");
  m->train(training_);
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : buffers ? buffers_ : params_) out.emplace_back(prefix + n, t);
  for (const auto& [n, child] : children_) child->collect(prefix + n + ".", buffers, out);
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

void Module::train(bool on) {
  const bool changed = training_ != on;
  training_ = on;
  for (auto& [_, child] : children_) child->train(on);
  if (changed) on_mode_change();
}

void Module::zero_grad() {
  for (Tensor& t : parameters()) t.zero_grad();
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::set<std::string> used;
  auto load = [&](const std::vector<std::pair<std::string, Tensor>>& mine) {
    for (auto [n, t] : mine) {
      auto it = state.find(n);
      if (it == state.end()) {
        if (strict) throw ValueError("load_state_dict: missing '" + n + "' in the state");
        continue;
      }
      if (it->second.shape() != t.shape())
        throw ShapeError("load_state_dict: '" + n + "' has shape " + shape_str(it->second.shape()) +
                         " in the state but " + shape_str(t.shape()) + " in the module");
      t.copy_(it->second);
      used.insert(n);
    }
  };
  load(named_parameters());
  load(named_buffers());
  if (strict)
    for (auto& [n, _] : state)
      if (!used.count(n)) throw ValueError("load_state_dict: unexpected key '" + n + "' in the state");
}

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
