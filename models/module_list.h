// ModuleList: an ordered, indexable holder of child modules named "0", "1", ... so that
// parameter names read "blocks.0.norm1.weight". It has no forward of its own: the owner
// decides how its members are called (with masks, causal flags, ...).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace nl {

template <class M = Module>
class ModuleList : public Module {
 public:
  std::string type_name() const override { return "ModuleList"; }
  // Appends m under the next index; returns it.
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    register_module(std::to_string(items_.size()), m);
    items_.push_back(m);
    return items_.back();
  }
  size_t size() const { return items_.size(); }
  const std::shared_ptr<M>& operator[](size_t i) const { return items_.at(i); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace nl
