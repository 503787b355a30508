// Registry: a type name -> a factory that reads and validates its JSON config. The generic
// machinery behind every registry in normlab (layers, models, datasets, optimizers): each
// folder keeps its own registry instance, built on this template, so a folder depends only on
// core/ for it. User code can add its own types at run time with add().
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "core/error.h"

namespace nl {

template <class Product, class Args>
class Registry {
 public:
  using Factory = std::function<std::shared_ptr<Product>(ConfigReader&, const Args&)>;
  struct Entry {
    Factory make;
    std::string doc;
  };

  explicit Registry(std::string what) : what_(std::move(what)) {}

  // Registers `name`; registering a name twice is an error (a typo guard).
  void add(const std::string& name, Factory make, const std::string& doc) {
    if (entries_.count(name)) throw ValueError(what_ + " '" + name + "' is registered twice");
    entries_[name] = Entry{std::move(make), doc};
  }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (auto& [n, _] : entries_) out.push_back(n);
    return out;
  }
  const std::string& doc(const std::string& name) const { return entries_.at(name).doc; }

  // Reads cfg's "type" (default `default_type`), builds it and checks for unknown keys.
  std::shared_ptr<Product> create(ConfigReader& cfg, const Args& args,
                                  const std::string& default_type) const {
    const std::string type =
        cfg.get_string("type", default_type, "which " + what_ + " to build", names());
    auto it = entries_.find(type);
    if (it == entries_.end()) {  // only reachable when "type" is absent and there is no default
      std::string known;
      for (auto& [n, _] : entries_) known += (known.empty() ? "" : ", ") + n;
      cfg.fail("type", "is required (one of: " + known + ")");
    }
    auto product = it->second.make(cfg, args);
    cfg.finish();
    return product;
  }

 private:
  std::string what_;
  std::map<std::string, Entry> entries_;
};

}  // namespace nl
