// The layer registry (layers, activations, norms): a type name -> a factory that reads and
// validates its JSON, on the generic Registry template of core/registry.h. Adding a layer is
// one line in layers/registry.cpp; user code can add its own types at run time with add().
#pragma once
#include <memory>
#include <string>

#include "core/config_reader.h"
#include "core/registry.h"
#include "core/rng.h"
#include "layers/module.h"

namespace nl {

// What a parent module tells a layer factory about where it sits.
struct LayerArgs {
  int64_t features = 0;  // the width of the input feature axis (e.g. C of (B,T,C)), 0 = unknown
  Rng* rng = nullptr;    // initialises parameters (and seeds dropout); required by layers with
                         // random init
};

using LayerRegistry = Registry<Module, LayerArgs>;

// The layer registry (layers, activations, norms), filled by layers/registry.cpp on first use.
LayerRegistry& layer_registry();

// Builds a layer from JSON, e.g. {"type": "layernorm", "eps": 1e-5} with args.features = C.
// `path` names the object in error messages ("model.norm").
ModulePtr make_layer(const json& spec, const LayerArgs& args, const std::string& path = "layer");

}  // namespace nl
