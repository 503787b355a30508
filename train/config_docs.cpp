// Generating the config reference and default configs (see train/config_docs.h).
#include "train/config_docs.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "train/experiment.h"

namespace nl {

namespace {

// Runs the experiment builders on `config`; returns the keys they read (also when building
// fails part way, e.g. a dataset whose files are not installed) and whether it succeeded.
std::pair<std::vector<KeyDoc>, bool> run_builders(const json& config, json* effective = nullptr) {
  ConfigReader root(config, "");
  try {
    Experiment ex = build_experiment(root);
    if (effective) *effective = ex.config;
    return {root.docs(), true};
  } catch (const Error&) {
    return {root.docs(), false};
  }
}

// The allowed values of a "one of: a, b, c" range.
std::vector<std::string> choices(const std::vector<KeyDoc>& docs, const std::string& key) {
  for (const KeyDoc& d : docs) {
    if (d.key != key) continue;
    const std::string prefix = "one of: ";
    if (d.range.rfind(prefix, 0) != 0) return {};
    std::vector<std::string> out;
    std::stringstream ss(d.range.substr(prefix.size()));
    std::string item;
    while (std::getline(ss, item, ',')) {
      item.erase(0, item.find_first_not_of(' '));
      // Types named test_* are fixtures that tests register; they are not part of the reference.
      if (item.rfind("test_", 0) != 0) out.push_back(item);
    }
    return out;
  }
  return {};
}

std::vector<KeyDoc> in_section(const std::vector<KeyDoc>& docs, const std::string& section) {
  std::vector<KeyDoc> out;
  for (const KeyDoc& d : docs)
    if (d.key.rfind(section + ".", 0) == 0) out.push_back(d);
  return out;
}

// Data types to try when a model type needs a dataset it accepts: synthetic ones first.
std::vector<std::string> data_types_in_order() {
  std::vector<std::string> types = choices(run_builders(json::object()).first, "data.type");
  std::stable_partition(types.begin(), types.end(), [](const std::string& t) {
    return t != "fashion_mnist" && t != "words" && t != "text";
  });
  return types;
}

// The dataset each built-in model type is made for. `config --defaults MODEL` prints a config
// on it, so the printed config trains as printed: an MLP would also build on the adding
// problem (its padded sequences flattened), but that is not a model that fits its data.
// Model types not listed (e.g. registered by user code) get the first dataset they build with.
const std::map<std::string, std::string>& made_for_data() {
  static const std::map<std::string, std::string> m = {
      {"mlp", "fashion_mnist"},
      {"rnn_classifier", "sequence_class"},
      {"rnn_regressor", "adding"},
      {"transformer_classifier", "sequence_class"},
      {"transformer_lm", "pattern_lm"},
  };
  return m;
}

// The model type a config without "model.type" builds (the model registry's default).
std::string default_model_type() {
  for (const KeyDoc& d : run_builders(json::object()).first)
    if (d.key == "model.type" && d.default_value.is_string()) return d.default_value.get<std::string>();
  return "";
}

std::string cell(std::string s) {
  for (size_t p = 0; (p = s.find('|', p)) != std::string::npos; p += 2) s.replace(p, 1, "\\|");
  return s;
}

// A range with test fixtures (test_*) left out of a "one of:" list.
std::string public_range(const std::string& range) {
  const std::string prefix = "one of: ";
  if (range.rfind(prefix, 0) != 0) return range;
  std::string out;
  std::stringstream ss(range.substr(prefix.size()));
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    if (item.rfind("test_", 0) != 0) out += (out.empty() ? prefix : ", ") + item;
  }
  return out;
}

void table(std::ostringstream& md, const std::vector<KeyDoc>& docs) {
  md << "| key | type | default | allowed | description |\n|---|---|---|---|---|\n";
  for (const KeyDoc& d : docs) {
    if (d.type == "object") continue;  // sections are headings
    md << "| `" << d.key << "` | " << d.type << " | `" << cell(d.default_value.dump()) << "` | "
       << cell(public_range(d.range)) << " | " << cell(d.doc) << " |\n";
  }
  md << "\n";
}

// A section whose "type" key picks a registered component: the keys every type shares, then
// each type's own keys. `base` is the config the section is added to.
void typed_section(std::ostringstream& md, const std::string& section, const std::string& intro,
                   const json& base) {
  const std::vector<std::string> data_types = data_types_in_order();
  const std::vector<std::string> types = choices(run_builders(base).first, section + ".type");
  std::vector<std::pair<std::string, std::vector<KeyDoc>>> per_type;
  for (const std::string& t : types) {
    std::vector<KeyDoc> docs;
    std::set<std::string> seen;
    auto merge = [&](const std::vector<KeyDoc>& more) {
      for (const KeyDoc& d : in_section(more, section))
        if (seen.insert(d.key).second) docs.push_back(d);
    };
    if (section == "model") {
      // A model needs a dataset it accepts: try them until one builds.
      for (const std::string& dt : data_types) {
        auto [d, ok] = run_builders({{"data", {{"type", dt}}}, {"model", {{"type", t}}}});
        merge(d);
        if (ok) break;
      }
    } else {
      json cfg = base;
      cfg[section] = {{"type", t}};
      merge(run_builders(cfg).first);
    }
    per_type.emplace_back(t, docs);
  }
  // Keys every type has (with the same doc) are listed once.
  std::vector<KeyDoc> common;
  if (!per_type.empty())
    for (const KeyDoc& d : per_type.front().second) {
      bool everywhere = true;
      for (auto& [t, docs] : per_type)
        everywhere = everywhere && std::any_of(docs.begin(), docs.end(), [&](const KeyDoc& e) {
                       return e.key == d.key && e.doc == d.doc && e.default_value == d.default_value;
                     });
      if (everywhere) common.push_back(d);
    }
  md << "## `" << section << "`\n\n" << intro << "\n\n";
  table(md, common);
  for (auto& [t, docs] : per_type) {
    std::vector<KeyDoc> own;
    for (const KeyDoc& d : docs)
      if (std::none_of(common.begin(), common.end(), [&](const KeyDoc& c) { return c.key == d.key; }))
        own.push_back(d);
    md << "### `" << section << ".type`: `" << t << "`\n\n";
    if (own.empty()) md << "No keys of its own.\n\n";
    else table(md, own);
  }
}

}  // namespace

namespace {

// The effective config of `model_type` (empty: the default model) on the first dataset, in
// synthetic-first order, that it builds with. Fast (synthetic data is generated, not read),
// so the reference uses it as its base.
json first_fitting_config(const std::string& model_type) {
  json cfg = json::object();
  if (!model_type.empty()) cfg["model"] = {{"type", model_type}};
  std::string last_error;
  for (const std::string& dt : data_types_in_order()) {
    cfg["data"] = {{"type", dt}};
    try {
      return build_experiment(cfg).config;
    } catch (const Error& e) {  // this dataset does not fit the model (or is not installed)
      last_error = e.what();
    }
  }
  throw ConfigError("no dataset fits model type '" + model_type + "'" +
                    (last_error.empty() ? "" : " (last error: " + last_error + ")"));
}

}  // namespace

json default_config(const std::string& model_type, const std::string& data_type) {
  // The model type a missing "type" builds: the registry's default.
  const std::string model = model_type.empty() ? default_model_type() : model_type;
  std::string data = data_type;
  if (data.empty() && made_for_data().count(model)) data = made_for_data().at(model);
  if (data.empty()) return first_fitting_config(model_type);
  json cfg = json::object();
  if (!model_type.empty()) cfg["model"] = {{"type", model_type}};
  cfg["data"] = {{"type", data}};
  return build_experiment(cfg).config;  // errors (e.g. a mismatch) go to the caller
}

std::string config_reference_markdown() {
  std::ostringstream md;
  md << "# Config reference\n\n"
     << "<!-- Generated by `normlab config --markdown` from the definitions in the code; do not\n"
     << "     edit by hand. tests/train/test_config_docs.cpp fails when this file is stale. -->\n\n"
     << "A run config is one JSON object with the sections `seed`, `data`, `model`, `train` and\n"
     << "`optim`. Every key is optional: defaults < the JSON file < `--set key=value` on the\n"
     << "command line (dotted keys, JSON values: `--set optim.lr=3e-4 --set model.norm.type=batchnorm`).\n"
     << "Unknown keys are errors (with the closest valid key as a suggestion), and so are values\n"
     << "of the wrong type or out of range. The effective config (every default filled in) is\n"
     << "written to the run folder as `config.json`; `normlab config --defaults [MODEL]` prints it\n"
     << "without training and `normlab config --check CONFIG.json` validates a file.\n\n";
  // A data + model pair that builds, so every later section is reached: the default model's,
  // or else the first model type that has a fitting dataset.
  json good;
  try {
    good = first_fitting_config("");
  } catch (const Error&) {
    for (const std::string& m : choices(run_builders(json::object()).first, "model.type")) {
      try {
        good = first_fitting_config(m);
        break;
      } catch (const Error&) {
      }
    }
    if (good.is_null()) throw ConfigError("config reference: no model type builds with any dataset");
  }
  const json base_cfg = {{"data", {{"type", good["data"]["type"]}}}, {"model", {{"type", good["model"]["type"]}}}};
  const std::vector<KeyDoc> base = run_builders(base_cfg).first;
  md << "## Top level\n\n";
  std::vector<KeyDoc> top;
  for (const KeyDoc& d : base)
    if (d.key.find('.') == std::string::npos) top.push_back(d);
  table(md, top);
  md << "## `train`\n\nThe training loop (train/train_options.cpp).\n\n";
  table(md, in_section(base, "train"));
  typed_section(md, "data", "The dataset (data/registry.cpp) and how its batches are cut.", base_cfg);
  typed_section(md, "model", "The model (models/registry.cpp); `model.type` picks it.", base_cfg);
  typed_section(md, "optim", "The optimizer, learning-rate schedule and gradient clipping (optim/factory.cpp).",
                base_cfg);
  return md.str();
}

}  // namespace nl
