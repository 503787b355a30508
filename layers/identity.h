// Identity: returns its input unchanged. Registered as the norm type "none", so a model's norm
// slot can be switched off from the config ({"type": "none"}).
#pragma once
#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

// Registry factory; accepts (and ignores) "features" so a norm config can switch type freely.
ModulePtr make_identity(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
