// Sequential: an ordered chain of modules named "0", "1", ...; forward feeds each output to
// the next. Built in code with push_back or from JSON {"type": "sequential", "layers": [...]}.
#pragma once
#include <vector>

#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(const std::vector<ModulePtr>& layers);

  // Appends a layer under the next index name; returns *this for chaining.
  Sequential& push_back(ModulePtr layer);
  size_t size() const { return layers_.size(); }
  const ModulePtr& operator[](size_t i) const { return layers_.at(i); }

  // x -> layer_n(...layer_1(layer_0(x))). An empty Sequential is the identity.
  Tensor forward(const Tensor& x) override;
  // The same, handing `mask` ((N) or (B,T), nonzero = valid) to every layer.
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;

  std::string type_name() const override { return "Sequential"; }
  int64_t output_features(int64_t in) const override;

 private:
  std::vector<ModulePtr> layers_;
};

// Registry factory. Keys: layers (array of layer specs, each with its own "type"; each layer
// is told the output width of the one before it).
ModulePtr make_sequential(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
