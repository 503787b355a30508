// Small helpers the model factories share: activations by name, the head width a task
// needs, and norm layers built from the model's "norm" config object.
#pragma once
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "core/tensor.h"
#include "layers/module.h"
#include "models/model.h"

namespace nl {

// The activations models accept by name, and applying one.
const std::vector<std::string>& activation_names();
Tensor apply_activation(const std::string& name, const Tensor& x);

// The output width of a prediction head for the dataset's task: num_classes for
// classification, 1 for regression. `model` names the model in errors; language modelling
// is rejected here (only transformer_lm handles it).
int64_t head_width(const DatasetInfo& info, const ConfigReader& cfg, const std::string& model);

// args.rng, or a ValueError naming the model when it is missing.
Rng& model_rng(const ModelArgs& args, const std::string& model);

// Builds one norm layer of `width` features from the "norm" object (its "type" defaults to
// `default_type`). Called once per norm layer on the same reader, so every norm of the model
// shares the spec and its keys are documented once.
ModulePtr make_norm(ConfigReader& norm_cfg, int64_t width, Rng& rng, const std::string& default_type);
// The doc line of the "norm" key.
std::string norm_doc();

// Reads the model's "batchnorm_sync" key (issue 10) and sets it on every BatchNorm of `model`
// (hidden, input, cell and transformer norms alike); returns the model.
std::shared_ptr<Model> apply_batchnorm_sync(ConfigReader& cfg, std::shared_ptr<Model> model);

// norm(x) over (B,T,C) with the padding mask when there is one (BatchNorm then takes its
// statistics over the valid positions only).
Tensor apply_norm(const ModulePtr& norm, const Tensor& x, const Tensor& mask);

}  // namespace nl
