// The layer registry: one line per layer type. To add a layer, write its .h/.cpp with a
// factory `ModulePtr make_<name>(ConfigReader&, const LayerArgs&)`, include its header here
// and add one `r.add(...)` line below (see docs/adding-a-layer.md).
#include "layers/registry.h"

namespace nl {

LayerRegistry& layer_registry() {
  static LayerRegistry* registry = [] {
    auto* r = new LayerRegistry("layer");
    // ---- one line per layer type ----
    return r;
  }();
  return *registry;
}

ModulePtr make_layer(const json& spec, const LayerArgs& args, const std::string& path) {
  ConfigReader cfg(spec, path);
  return layer_registry().create(cfg, args, "");
}

}  // namespace nl
