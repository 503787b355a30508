// Sequential container: ordering, chaining of forward calls and of feature widths.
#include "layers/sequential.h"

namespace nl {

Sequential::Sequential(const std::vector<ModulePtr>& layers) {
  for (const ModulePtr& m : layers) push_back(m);
}

Sequential& Sequential::push_back(ModulePtr layer) {
  register_module(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (const ModulePtr& m : layers_) h = m->forward(h);
  return h;
}

Tensor Sequential::forward_masked(const Tensor& x, const Tensor& mask) {
  Tensor h = x;
  for (const ModulePtr& m : layers_) h = m->forward_masked(h, mask);
  return h;
}

int64_t Sequential::output_features(int64_t in) const {
  for (const ModulePtr& m : layers_) in = m->output_features(in);
  return in;
}

ModulePtr make_sequential(ConfigReader& cfg, const LayerArgs& args) {
  auto seq = std::make_shared<Sequential>();
  LayerArgs child = args;
  for (ConfigReader& spec : cfg.get_object_list("layers", "the layers, in order (each a layer spec)")) {
    ModulePtr m = layer_registry().create(spec, child, "");
    child.features = m->output_features(child.features);
    seq->push_back(std::move(m));
  }
  return seq;
}

}  // namespace nl
