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
// Grid axes: "variant" (names from "variants"), "seed" (sets the config's "seed"), "ranks" (a
// launch parameter, not a config key: the run is started as that many MPI ranks by
// `mpirun -np N`, its config unchanged; lab/sweep.h), or any dotted config key.
// Order of application: base < spec "set" < profile "set" < variant "set" < other axes.
//
// Every key (anything else, at any level, is an error suggesting the closest valid key):
//   name            string, required, [a-z0-9_]+
//   title, question string, optional ("")
//   base            object (inline train config) or string (config file, relative to the spec
//                   file; absolute allowed), required
//   set             object, optional: dotted config key -> JSON value (arrays stay arrays)
//   variants        object, optional: NAME ([A-Za-z0-9_]+) -> {set: object (dotted), label:
//                   string (default NAME)}. Variants not on the "variant" axis are never used.
//   grid            object, required, non-empty: axis -> non-empty array of distinct values.
//                   "variant": variant names; "seed": integers >= 0; "ranks": integers
//                   1..kMaxRanks (MPI processes per run); else a dotted config key.
//                   Two axes may not set the same value or one inside the other
//                   ("model.norm" vs "model.norm.type"); a variant on the axis may not set a key
//                   an axis sets. Without a "seed" axis each run uses the config's "seed" (0).
//   metrics         object, required, non-empty: NAME -> {path: string (required, dotted path
//                   into summary.json "final"), label: string (default path),
//                   higher_is_better: bool (default true), diverged_value: number (optional)}
//   primary_metric  string, optional (default: the first metric in file order)
//   claims          array, optional, of {id: string (required, unique), statement: string
//                   (required), source: string (""), better/worse: selector (required; axis ->
//                   value, never "seed"; each value must be in that axis; together with
//                   tune.axes it must pin every non-seed axis that has more than one value, so
//                   each side is one cell), metric: string (default primary_metric), kind:
//                   "beats" (default) | "not_worse", margin: number >= 0 (not_worse only;
//                   default 0), tune: {axes: non-empty array of grid axes (not seed, not in
//                   either selector), by: metric name (required)}, test: "welch" (default:
//                   the two cells' seeds as independent samples) | "paired" (the differences
//                   seed by seed, over the seeds both cells ran; lab/stats.h)}
//   profiles        object, optional: NAME (not "full") -> {set: object (dotted; merged into
//                   "set"), grid: object (axis -> values; replaces those axes' values; each axis
//                   must be in the grid)}. Every profile is applied at parse time, so one that
//                   drops a value a claim selects is an error when the spec is loaded.
// Run ids: the grid's axes in file order joined by '.': a variant as its name, a seed as
// "seed-N", ranks as "ranks-N", any other axis as "<last key segment>-<value>" (the whole key with '.' -> '_' when
// two axes share a last segment), values sanitised to [A-Za-z0-9_.+-] (arrays joined with
// 'x': [64, 32] -> "64x32"). E.g. "ln.batch_size-2.seed-0"; cell_id drops the seed part
// ("ln.batch_size-2"; "base" when the grid has only a seed axis). Two runs with the same id
// after sanitising -> ConfigError.
// A "metric path" is a dotted path into a run's summary.json "final" object, e.g.
// "test.accuracy", "val.batch_stats.accuracy", "test.by_length.0.accuracy".
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config_reader.h"

namespace nl::lab {

// The largest value of a "ranks" axis (a typo guard: 80 instead of 8 would start 80 processes).
constexpr int kMaxRanks = 1024;

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
  // How the verdict compares the sides: Welch's interval on independent samples, or the paired
  // interval over the seeds both sides ran (chosen in the spec, before any run).
  enum class Test { welch, paired } test = Test::welch;
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

// Parses and validates; `origin` names the file in error messages ("<origin>: ...");
// `spec_dir` resolves a "base" given as a path. spec_file is left "" (load_experiment sets it).
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
  int ranks = 1;     // MPI processes (the "ranks" axis; 1 without one): > 1 runs under mpirun
  json config;       // the full train config: base with every override applied
};

// The most runs one experiment's grid may have (the product of its axes' sizes).
constexpr int64_t kMaxGridRuns = 100000;

// Expands the grid (cartesian product in file order; the last axis varies fastest). Every run
// of a spec gets a distinct id; the same spec always gives the same ids and configs. A grid of
// more than kMaxGridRuns runs -> ConfigError (before anything is built).
std::vector<RunSpec> expand_grid(const ExperimentSpec& spec);

// Whether a cell (object axis -> value) matches a selector (JSON equality: 2 == 2.0).
bool matches(const Selector& sel, const json& cell);

// Applies a dotted-key override object ({"a.b": v, ...}) onto a config (creates objects).
void apply_dotted(json& config, const json& dotted);

// The spec as a self-contained JSON spec (base inlined, a profile's changes folded into "set"
// and "grid", "profiles" left out): parse_experiment() of it gives the same runs. For the
// sweep's NAME/experiment.json ("the spec as run"); `raw` stays the spec as written.
json spec_to_json(const ExperimentSpec& spec);

}  // namespace nl::lab
