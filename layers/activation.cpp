// Activation modules: forward and backward live in the elementwise ops (core/ops).
#include "layers/activation.h"

#include "core/ops.h"

namespace nl {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor GELU::forward(const Tensor& x) { return gelu(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }

ModulePtr make_relu(ConfigReader&, const LayerArgs&) { return std::make_shared<ReLU>(); }
ModulePtr make_gelu(ConfigReader&, const LayerArgs&) { return std::make_shared<GELU>(); }
ModulePtr make_tanh(ConfigReader&, const LayerArgs&) { return std::make_shared<Tanh>(); }
ModulePtr make_sigmoid(ConfigReader&, const LayerArgs&) { return std::make_shared<Sigmoid>(); }

}  // namespace nl
