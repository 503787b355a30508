// Model: a Module that maps a Batch to its output, built from the config's "model" section
// through the model registry (models/registry.cpp, one line per model type).
#pragma once
#include <memory>

#include "core/config_reader.h"
#include "core/rng.h"
#include "data/batch.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

class Model : public Module {
 public:
  // classification: (B, num_classes) logits; regression: (B) predictions;
  // language_model: (B, T, vocab_size) logits. Padded positions must not change the output
  // at valid positions.
  virtual Tensor forward_batch(const Batch& batch) = 0;
};

struct ModelArgs {
  DatasetInfo info;    // what the data looks like (sizes, task)
  Rng* rng = nullptr;  // parameter initialisation
};

using ModelRegistry = Registry<Model, ModelArgs>;
ModelRegistry& model_registry();

// Builds the model described by `cfg` (the "model" section), checking every key.
std::shared_ptr<Model> make_model(ConfigReader& cfg, const ModelArgs& args);

}  // namespace nl
