// The config reference, generated from the same get_*() calls that validate configs: every
// key of every section, for every dataset, model and optimizer type, with its type, default,
// allowed range and one-line doc. `normlab config --markdown` prints it; docs/config.md is its
// output (a test keeps the two in sync). Registry types named test_* (test fixtures) are left out.
#pragma once
#include <string>

#include "core/config_reader.h"

namespace nl {

// The full effective config for a run of `model_type` (default: the default model), built by
// running the experiment builders on a minimal config. `data_type` picks the dataset (empty:
// the first registered dataset the model accepts).
json default_config(const std::string& model_type = "", const std::string& data_type = "");

// The whole reference as Markdown.
std::string config_reference_markdown();

}  // namespace nl
