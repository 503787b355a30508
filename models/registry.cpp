// The model registry: one line per model type. To add a model, write models/<name>.h/.cpp
// with a factory `std::shared_ptr<Model> make_<name>(ConfigReader&, const ModelArgs&)`,
// include its header here and add one line below.
#include "core/error.h"
#include "models/mlp.h"
#include "models/model.h"
#include "models/rnn_classifier.h"
#include "models/rnn_regressor.h"
#include "models/transformer_classifier.h"
#include "models/transformer_lm.h"

namespace nl {

ModelRegistry& model_registry() {
  static ModelRegistry* registry = [] {
    auto* r = new ModelRegistry("model");
    // ---- one line per model type ----
    r->add("mlp", make_mlp, "flat input -> [Linear -> norm -> activation] x N -> head");
    r->add("rnn_classifier", make_rnn_classifier, "embedding/features -> Elman RNN (cell norm) -> pooled -> head");
    r->add("rnn_regressor", make_rnn_regressor, "features -> Elman RNN (cell norm) -> last state -> scalar");
    r->add("transformer_classifier", make_transformer_classifier, "embedding + positions -> N blocks -> final norm -> masked mean -> head");
    r->add("transformer_lm", make_transformer_lm, "causal transformer: tokens + positions -> N blocks -> final norm -> vocab logits");
    return r;
  }();
  return *registry;
}

std::shared_ptr<Model> make_model(ConfigReader& cfg, const ModelArgs& args) {
  return model_registry().create(cfg, args, "mlp");
}

}  // namespace nl
