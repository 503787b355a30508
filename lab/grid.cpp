// Grid expansion (lab/spec.h): the cartesian product of a spec's axes, each run's full train
// config (base < spec "set" < variant "set" < axis values; "ranks" is a launch parameter and
// leaves the config alone) and its stable, filename-safe id.
#include <set>

#include "core/error.h"
#include "lab/spec.h"

namespace nl::lab {
namespace {

// Keeps [A-Za-z0-9_.+-]; anything else becomes '_', so a value can be part of a file name.
std::string sanitise(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '+' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

// A value as it appears in a run id: strings as written, numbers in JSON's shortest form
// (0.001 -> "0.001"), arrays joined with 'x' ([64, 64] -> "64x64"), objects as key_value pairs.
std::string value_text(const json& v) {
  if (v.is_string()) return sanitise(v.get<std::string>());
  if (v.is_array()) {
    if (v.empty()) return "empty";
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? "x" : "") + value_text(v[i]);
    return s;
  }
  if (v.is_object()) {
    std::string s;
    for (auto it = v.begin(); it != v.end(); ++it)
      s += (s.empty() ? "" : "_") + sanitise(it.key()) + "_" + value_text(it.value());
    return s.empty() ? "empty" : s;
  }
  return sanitise(v.dump());
}

std::string last_segment(const std::string& key) {
  const size_t dot = key.rfind('.');
  return dot == std::string::npos ? key : key.substr(dot + 1);
}

// The label of each axis in run ids: its last key segment, or the whole key with '.' -> '_'
// when another axis has the same last segment ("data.seed" beside the "seed" axis).
std::vector<std::string> axis_labels(const std::vector<GridAxis>& grid) {
  std::vector<std::string> labels;
  for (const GridAxis& a : grid) {
    bool clash = false;
    for (const GridAxis& b : grid)
      if (&a != &b && last_segment(a.key) == last_segment(b.key)) clash = true;
    std::string label = clash ? a.key : last_segment(a.key);
    for (char& c : label)
      if (c == '.') c = '_';
    labels.push_back(sanitise(label));
  }
  return labels;
}

}  // namespace

void apply_dotted(json& config, const json& dotted) {
  if (!dotted.is_object()) throw ConfigError("overrides must be an object of dotted keys, got " + dotted.dump());
  if (config.is_null()) config = json::object();
  for (auto it = dotted.begin(); it != dotted.end(); ++it) {
    const std::string& key = it.key();
    json* node = &config;
    size_t start = 0;
    for (;;) {
      const size_t dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (part.empty()) throw ConfigError("malformed config key '" + key + "'");
      if (node->is_null()) *node = json::object();
      if (!node->is_object())
        throw ConfigError("config key '" + key + "' goes through '" + key.substr(0, start ? start - 1 : 0) +
                          "', which is not an object");
      if (dot == std::string::npos) {
        (*node)[part] = it.value();
        break;
      }
      node = &(*node)[part];
      start = dot + 1;
    }
  }
}

bool matches(const Selector& sel, const json& cell) {
  if (!cell.is_object()) return sel.empty();
  for (const auto& [axis, value] : sel) {
    const auto it = cell.find(axis);
    if (it == cell.end() || *it != value) return false;
  }
  return true;
}

std::vector<RunSpec> expand_grid(const ExperimentSpec& spec) {
  const std::vector<GridAxis>& grid = spec.grid;
  if (grid.empty()) throw ConfigError("experiment '" + spec.name + "': the grid is empty");
  for (const GridAxis& a : grid)
    if (a.values.empty()) throw ConfigError("experiment '" + spec.name + "': grid axis '" + a.key + "' has no values");
  // Refused before anything is built: each run is a training process, and a few dozen axes of
  // two values would otherwise fill the memory with run configs (counted in double: no overflow).
  double count = 1;
  for (const GridAxis& a : grid) count *= static_cast<double>(a.values.size());
  if (count > static_cast<double>(kMaxGridRuns))
    throw ConfigError("experiment '" + spec.name + "': the grid has " +
                      (count < 1e18 ? std::to_string(static_cast<int64_t>(count)) : std::string("more than 10^18")) +
                      " runs, more than the limit of " + std::to_string(kMaxGridRuns) +
                      ": use fewer axes or values, or split it into several experiments");
  const std::vector<std::string> labels = axis_labels(grid);

  json common = spec.base.is_object() ? spec.base : json::object();
  apply_dotted(common, spec.set);

  std::vector<RunSpec> runs;
  std::set<std::string> ids;
  std::vector<size_t> index(grid.size(), 0);  // odometer over the axes; the last one fastest
  for (;;) {
    RunSpec r;
    r.cell = json::object();
    r.config = common;
    std::string id, cell_id;
    bool has_seed_axis = false;
    // Variant first (its "set" sits below the axes), then the other axes in grid order.
    for (size_t i = 0; i < grid.size(); ++i) {
      if (grid[i].key != "variant") continue;
      const std::string name = grid[i].values[index[i]].get<std::string>();
      const Variant* v = spec.find_variant(name);
      if (!v) throw ConfigError("experiment '" + spec.name + "': unknown variant '" + name + "'");
      apply_dotted(r.config, v->set);
    }
    for (size_t i = 0; i < grid.size(); ++i) {
      const GridAxis& a = grid[i];
      const json& value = a.values[index[i]];
      std::string part;
      if (a.key == "variant") {
        part = value.get<std::string>();
      } else if (a.key == "seed") {
        has_seed_axis = true;
        r.seed = value.get<int64_t>();
        r.config["seed"] = r.seed;
        part = "seed-" + std::to_string(r.seed);
      } else if (a.key == "ranks") {
        // A launch parameter: the config stays as it is (lab/sweep.cpp starts mpirun).
        r.ranks = value.get<int>();
        part = labels[i] + "-" + std::to_string(r.ranks);
      } else {
        apply_dotted(r.config, json{{a.key, value}});
        part = labels[i] + "-" + value_text(value);
      }
      if (a.key != "seed") {
        r.cell[a.key] = value;
        cell_id += (cell_id.empty() ? "" : ".") + part;
      }
      id += (id.empty() ? "" : ".") + part;
    }
    if (!has_seed_axis) {
      const auto it = r.config.find("seed");
      r.seed = (it != r.config.end() && it->is_number_integer()) ? it->get<int64_t>() : 0;
    }
    r.id = id;
    r.cell_id = cell_id.empty() ? "base" : cell_id;
    if (!ids.insert(r.id).second)
      throw ConfigError("experiment '" + spec.name + "': two runs get the id '" + r.id +
                        "' (axis values that differ only in characters a file name cannot hold)");
    runs.push_back(std::move(r));

    size_t k = grid.size();
    while (k > 0) {
      --k;
      if (++index[k] < grid[k].values.size()) break;
      index[k] = 0;
      if (k == 0) return runs;
    }
  }
}

}  // namespace nl::lab
