// Activation modules: thin Module wrappers over the elementwise ops (ReLU, GELU (erf form),
// Tanh, Sigmoid), so activations can sit in a Sequential and be named in JSON.
#pragma once
#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

// x: any shape -> same shape.
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

// Exact GELU, x·Φ(x) (Hendrycks & Gimpel 2016), as PyTorch's default approximate='none'.
class GELU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GELU"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Tanh"; }
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};

// Registry factories; none takes keys besides "type".
ModulePtr make_relu(ConfigReader& cfg, const LayerArgs& args);
ModulePtr make_gelu(ConfigReader& cfg, const LayerArgs& args);
ModulePtr make_tanh(ConfigReader& cfg, const LayerArgs& args);
ModulePtr make_sigmoid(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
