// An experiment spec (experiments/NAME.json): a base training config, a grid over config keys
// (with named variants that change several keys at once), the metrics to compare, and the
// claims — each stated before any run. Parsing validates as strictly as a train config:
// unknown key, empty grid, unknown variant, a claim naming a variant or value that is not in
// the grid -> ConfigError naming the problem (the CLI exits 2).
//
// File format (every key documented in docs/experiments.md):
// {
//   "name": "e1_batch_size",                  // [a-z0-9_]+, the experiment's folder in a sweep
//   "title": "...", "question": "...",        // what it answers, shown in the report
//   "base": { ...train config... } | "path/to/config.json",   // path: relative to the spec file
//   "set": { "train.epochs": 2, ... },        // dotted overrides on the base (optional)
//   "variants": { "ln": {"set": {"model.norm.type": "layernorm"}, "label": "LayerNorm"}, ... },
//   "grid": { "variant": ["none", "bn", "ln"], "train.batch_size": [128, 4, 2], "seed": [0,1,2,3,4] },
//   "metrics": { "test_acc": {"path": "test.accuracy", "higher_is_better": true,
//                             "label": "test accuracy", "diverged_value": 0.1} },
//   "primary_metric": "test_acc",
//   "claims": [ { "id": "E1.b2", "statement": "At batch 2 LN beats BN on test accuracy",
//                 "better": {"variant": "ln", "train.batch_size": 2},
//                 "worse":  {"variant": "bn", "train.batch_size": 2},
//                 "metric": "test_acc",          // optional, default primary_metric
//                 "kind": "beats" | "not_worse", // optional, default "beats"
//                 "margin": 0.0,                 // not_worse: how much worse still counts as a match
//                 "tune": {"axes": ["optim.lr"], "by": "val_acc"},  // optional: each side at its best
//                 "source": "LN paper 6.6; GN paper Table 2" } ],
//   "profiles": { "quick": { "set": {...}, "grid": { "seed": [0,1,2] } } }   // replaces axes' values
// }
// Grid axes: "variant" (names from "variants"), "seed" (sets the config's "seed"), or any dotted
// config key. Order of application: base < spec "set" < profile "set" < variant "set" < other axes.
// A "metric path" is a dotted path into a run's summary.json "final" object, e.g.
// "test.accuracy", "val.batch_stats.accuracy", "test.by_length.0.accuracy".
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config_reader.h"

namespace nl::lab {

struct Variant {
  std::string name;
  std::string label;  // for tables and legends (default: name)
  json set;           // object: dotted key -> JSON value
};

struct GridAxis {
  std::string key;           // "variant", "seed" or a dotted config key
  std::vector<json> values;  // non-empty
};

struct MetricSpec {
  std::string name;   // the key in "metrics"
  std::string path;   // dotted path into summary.json "final"
  std::string label;  // default: path
  bool higher_is_better = true;
  std::optional<double> diverged_value;  // diverged runs count with this value (else excluded)
};

// A cell selector: axis key -> value, for a subset of the non-seed axes. A cell matches when
// every listed axis has that value.
using Selector = std::map<std::string, json>;

struct Claim {
  std::string id, statement, source;
  Selector better, worse;
  std::string metric;  // a name in Experiment::metrics
  enum class Kind { beats, not_worse } kind = Kind::beats;
  double margin = 0.0;
  std::vector<std::string> tune_axes;  // each side at its best value of these axes ...
  std::string tune_by;                 // ... judged by this metric's mean (e.g. a val metric)
};

struct Profile {
  json set = json::object();
  std::vector<GridAxis> grid;  // axes whose values replace the spec's
};

struct ExperimentSpec {
  std::string name, title, question;
  std::string spec_file;  // where it was read from ("" when parsed from JSON text)
  json base;              // the base config object (a path is loaded at parse time)
  json set = json::object();
  std::vector<Variant> variants;
  std::vector<GridAxis> grid;  // in file order; "seed" may be absent (then one run per cell)
  std::map<std::string, MetricSpec> metrics;
  std::string primary_metric;
  std::vector<Claim> claims;
  std::map<std::string, Profile> profiles;
  json raw;  // the spec as written, for the sweep index

  const Variant* find_variant(const std::string& name) const;
  const MetricSpec& metric(const std::string& name) const;  // throws ConfigError when unknown
};

// Parses and validates; `origin` names the file in error messages.
ExperimentSpec parse_experiment(const json& j, const std::string& origin, const std::string& spec_dir = ".");
ExperimentSpec load_experiment(const std::string& path);

// The spec with a profile applied ("" or "full": unchanged). Unknown profile -> ConfigError
// listing the profiles there are.
ExperimentSpec apply_profile(const ExperimentSpec& spec, const std::string& profile);

// One training run of the grid.
struct RunSpec {
  std::string id;    // stable, filename-safe, e.g. "ln.batch_size-2.seed-0"
  json cell;         // object: axis key -> value for every non-seed axis (the cell it belongs to)
  std::string cell_id;  // id without the seed part, e.g. "ln.batch_size-2"
  int64_t seed = 0;
  json config;       // the full train config: base with every override applied
};

// Expands the grid (cartesian product in file order; the last axis varies fastest).
std::vector<RunSpec> expand_grid(const ExperimentSpec& spec);

// Whether a cell (object axis -> value) matches a selector.
bool matches(const Selector& sel, const json& cell);

// Applies a dotted-key override object ({"a.b": v, ...}) onto a config (creates objects).
void apply_dotted(json& config, const json& dotted);

}  // namespace nl::lab
