// Registries: a type name -> a factory that reads and validates its JSON. Adding a component
// is one line in the matching registry .cpp (layers/registry.cpp for layers and norms);
// user code can add its own types at run time with add().
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "core/error.h"
#include "core/rng.h"
#include "layers/module.h"

namespace nl {

// What a parent module tells a layer factory about where it sits.
struct LayerArgs {
  int64_t features = 0;  // the width of the input feature axis (e.g. C of (B,T,C)), 0 = unknown
  Rng* rng = nullptr;    // initialises parameters (and seeds dropout); required by layers with
                         // random init
};

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

using LayerRegistry = Registry<Module, LayerArgs>;

// The layer registry (layers, activations, norms), filled by layers/registry.cpp on first use.
LayerRegistry& layer_registry();

// Builds a layer from JSON, e.g. {"type": "layernorm", "eps": 1e-5} with args.features = C.
// `path` names the object in error messages ("model.norm").
ModulePtr make_layer(const json& spec, const LayerArgs& args, const std::string& path = "layer");

}  // namespace nl
