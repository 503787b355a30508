// Parsing and validation of experiment specs (lab/spec.h), and profiles. Every error names the
// spec file and the offending key, path or value in one line; the CLI maps ConfigError to exit 2.
// Grid expansion and run ids live in lab/grid.cpp.
#include "lab/spec.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"

namespace nl::lab {
namespace {

namespace fs = std::filesystem;

ExperimentSpec apply_profile_from(const ExperimentSpec& spec, const std::string& profile, const std::string& origin);

// The keys each object of a spec may hold (the full list is documented in lab/spec.h).
const std::vector<std::string> kTopKeys = {"name",   "title",   "question",       "base",   "set",
                                           "variants", "grid",  "metrics", "primary_metric", "claims",
                                           "profiles"};
const std::vector<std::string> kVariantKeys = {"set", "label"};
const std::vector<std::string> kMetricKeys = {"path", "label", "higher_is_better", "diverged_value"};
const std::vector<std::string> kClaimKeys = {"id",     "statement", "source", "better", "worse",
                                             "metric", "kind",      "margin", "tune",   "test"};
const std::vector<std::string> kTuneKeys = {"axes", "by"};
const std::vector<std::string> kProfileKeys = {"set", "grid"};

std::string join(const std::vector<std::string>& v, const std::string& sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

std::string in_where(const std::string& where) { return where.empty() ? "" : " in " + where; }

// Reads one spec; holds the origin for messages.
class Parser {
 public:
  explicit Parser(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& message) const { throw ConfigError(origin_ + ": " + message); }

  // Rejects any key of `obj` not in `allowed`, with the closest allowed key as a suggestion.
  void check_keys(const json& obj, const std::vector<std::string>& allowed, const std::string& where) const {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (std::find(allowed.begin(), allowed.end(), it.key()) != allowed.end()) continue;
      const std::string hint = did_you_mean(it.key(), allowed);
      fail("unknown key '" + it.key() + "'" + in_where(where) +
           (hint.empty() ? " (valid keys: " + join(allowed) + ")" : hint));
    }
  }

  const json& object_at(const json& parent, const std::string& key, const std::string& where) const {
    const json& v = parent.at(key);
    if (!v.is_object()) fail("'" + where + "' must be an object, got " + v.dump());
    return v;
  }

  std::string string_at(const json& obj, const std::string& key, const std::string& where, bool required,
                        const std::string& def = "") const {
    if (!obj.contains(key)) {
      if (required) fail("missing '" + key + "'" + in_where(where));
      return def;
    }
    const json& v = obj.at(key);
    if (!v.is_string()) fail("'" + path(where, key) + "' must be a string, got " + v.dump());
    return v.get<std::string>();
  }

  static std::string path(const std::string& where, const std::string& key) {
    return where.empty() ? key : where + "." + key;
  }

  // A dotted-override object: {"a.b": value, ...} with well-formed keys.
  json dotted_object(const json& v, const std::string& where) const {
    if (!v.is_object()) fail("'" + where + "' must be an object of dotted config keys, got " + v.dump());
    for (auto it = v.begin(); it != v.end(); ++it) check_dotted_key(it.key(), where);
    return v;
  }

  void check_dotted_key(const std::string& key, const std::string& where) const {
    bool ok = !key.empty() && key.front() != '.' && key.back() != '.' && key.find("..") == std::string::npos;
    if (!ok) fail("malformed config key '" + key + "'" + in_where(where));
  }

  const std::string& origin() const { return origin_; }

 private:
  std::string origin_;
};

bool is_name(const std::string& s, bool allow_upper) {
  if (s.empty()) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || (allow_upper && c >= 'A' && c <= 'Z');
    if (!ok) return false;
  }
  return true;
}

// Whether two dotted keys set the same config value or one lies inside the other.
bool keys_overlap(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const auto inside = [](const std::string& outer, const std::string& inner) {
    return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 && inner[outer.size()] == '.';
  };
  return inside(a, b) || inside(b, a);
}

std::vector<std::string> variant_names(const ExperimentSpec& s) {
  std::vector<std::string> v;
  for (const Variant& x : s.variants) v.push_back(x.name);
  return v;
}

const GridAxis* find_axis(const std::vector<GridAxis>& grid, const std::string& key) {
  for (const GridAxis& a : grid)
    if (a.key == key) return &a;
  return nullptr;
}

std::vector<std::string> axis_keys(const std::vector<GridAxis>& grid) {
  std::vector<std::string> v;
  for (const GridAxis& a : grid) v.push_back(a.key);
  return v;
}

std::string suggest(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string hint = did_you_mean(word, candidates);
  return hint.empty() ? " (there are: " + join(candidates) + ")" : hint;
}

// Values of one axis: non-empty array, no duplicates; "variant" names defined variants, "seed"
// non-negative integers, "ranks" integers in [1, kMaxRanks].
GridAxis parse_axis(const Parser& p, const std::string& key, const json& values, const std::string& where,
                    const ExperimentSpec& s) {
  const std::string axis_name = where + " axis '" + key + "'";  // e.g. "grid axis 'seed'"
  if (key != "variant" && key != "seed" && key != "ranks") p.check_dotted_key(key, where);
  if (!values.is_array()) p.fail(axis_name + " must be an array of values, got " + values.dump());
  if (values.empty()) p.fail(axis_name + " has no values");
  GridAxis axis{key, {}};
  for (const json& v : values) {
    if (key == "variant") {
      if (!v.is_string()) p.fail(axis_name + ": values must be variant names, got " + v.dump());
      if (!s.find_variant(v.get<std::string>()))
        p.fail(axis_name + " names unknown variant '" + v.get<std::string>() + "'" +
               (s.variants.empty() ? " (the spec defines no \"variants\")" : suggest(v.get<std::string>(), variant_names(s))));
    }
    if (key == "seed" && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      p.fail(axis_name + ": seeds must be non-negative integers, got " + v.dump());
    if (key == "ranks" && !(v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= kMaxRanks))
      p.fail(axis_name + ": rank counts must be integers from 1 to " + std::to_string(kMaxRanks) + ", got " + v.dump());
    if (std::find(axis.values.begin(), axis.values.end(), v) != axis.values.end())
      p.fail(axis_name + " lists " + v.dump() + " twice");
    axis.values.push_back(v);
  }
  return axis;
}

std::vector<GridAxis> parse_grid(const Parser& p, const json& g, const std::string& where, const ExperimentSpec& s) {
  if (!g.is_object()) p.fail("'" + where + "' must be an object: axis -> array of values, got " + g.dump());
  std::vector<GridAxis> grid;
  for (auto it = g.begin(); it != g.end(); ++it) grid.push_back(parse_axis(p, it.key(), it.value(), where, s));
  return grid;
}

Selector parse_selector(const Parser& p, const json& j, const std::string& where) {
  if (!j.is_object()) p.fail("'" + where + "' must be an object: axis -> value, got " + j.dump());
  Selector sel;
  for (auto it = j.begin(); it != j.end(); ++it) sel[it.key()] = it.value();
  return sel;
}

// Checks that depend on the grid: run again after a profile changes axis values.
void validate_against_grid(const Parser& p, const ExperimentSpec& s) {
  if (s.grid.empty()) p.fail("'grid' is empty: give at least one axis");
  const std::vector<std::string> keys = axis_keys(s.grid);
  for (size_t i = 0; i < s.grid.size(); ++i)
    for (size_t j = i + 1; j < s.grid.size(); ++j)
      if (keys_overlap(s.grid[i].key, s.grid[j].key))
        p.fail("grid axes '" + s.grid[i].key + "' and '" + s.grid[j].key + "' set the same config value");
  // A variant in the grid and an axis must not both set a key: which one wins would be a
  // silent choice. (Variants not on the "variant" axis are never applied.)
  if (const GridAxis* va = find_axis(s.grid, "variant"))
    for (const json& name : va->values)
      if (const Variant* v = s.find_variant(name.get<std::string>()))
        for (auto it = v->set.begin(); it != v->set.end(); ++it)
          for (const GridAxis& a : s.grid)
            if (a.key != "variant" && keys_overlap(it.key(), a.key))
              p.fail("variant '" + v->name + "' sets '" + it.key() + "', which grid axis '" + a.key + "' also sets");

  for (size_t ci = 0; ci < s.claims.size(); ++ci) {
    const Claim& c = s.claims[ci];
    const std::string where = "claims." + std::to_string(ci);
    for (const std::string& t : c.tune_axes) {
      if (!find_axis(s.grid, t)) p.fail("'" + where + ".tune.axes' names '" + t + "', which is not in the grid" + suggest(t, keys));
      if (t == "seed") p.fail("'" + where + ".tune.axes' cannot tune 'seed'");
      if (c.better.count(t) || c.worse.count(t))
        p.fail("'" + where + ".tune.axes' names '" + t + "', which the claim's better/worse selector also fixes");
    }
    for (const auto* side : {&c.better, &c.worse}) {
      const std::string w = where + (side == &c.better ? ".better" : ".worse");
      for (const auto& [axis, value] : *side) {
        if (axis == "seed") p.fail("'" + w + "' selects a seed: claims compare cells over all seeds");
        if (axis == "variant") {
          if (!value.is_string() || !s.find_variant(value.get<std::string>()))
            p.fail("'" + w + "' names unknown variant " + value.dump() +
                   (value.is_string() && !s.variants.empty() ? suggest(value.get<std::string>(), variant_names(s)) : ""));
        }
        const GridAxis* a = find_axis(s.grid, axis);
        if (!a) p.fail("'" + w + "' names axis '" + axis + "', which is not in the grid" + suggest(axis, keys));
        if (std::find(a->values.begin(), a->values.end(), value) == a->values.end())
          p.fail("'" + w + "' selects " + value.dump() + " for axis '" + axis + "', which the grid does not list");
      }
      // The selector and the tuned axes must pin one cell; an axis left open would pool cells.
      for (const GridAxis& a : s.grid) {
        if (a.key == "seed" || a.values.size() < 2 || side->count(a.key)) continue;
        if (std::find(c.tune_axes.begin(), c.tune_axes.end(), a.key) != c.tune_axes.end()) continue;
        p.fail("'" + w + "' does not pin grid axis '" + a.key + "' (" + std::to_string(a.values.size()) +
               " values): select a value or list it in tune.axes");
      }
    }
    if (c.better == c.worse) p.fail("'" + where + "': better and worse select the same cell");
  }
}

Profile parse_profile(const Parser& p, const json& j, const std::string& where, const ExperimentSpec& s) {
  if (!j.is_object()) p.fail("'" + where + "' must be an object, got " + j.dump());
  p.check_keys(j, kProfileKeys, where);
  Profile prof;
  if (j.contains("set")) prof.set = p.dotted_object(j.at("set"), where + ".set");
  if (j.contains("grid")) {
    prof.grid = parse_grid(p, j.at("grid"), where + ".grid", s);
    for (const GridAxis& a : prof.grid)
      if (!find_axis(s.grid, a.key))
        p.fail("'" + where + ".grid' names axis '" + a.key + "', which is not in the grid" + suggest(a.key, axis_keys(s.grid)));
  }
  return prof;
}

Claim parse_claim(const Parser& p, const json& j, const std::string& where, const ExperimentSpec& s) {
  if (!j.is_object()) p.fail("'" + where + "' must be an object, got " + j.dump());
  p.check_keys(j, kClaimKeys, where);
  Claim c;
  c.id = p.string_at(j, "id", where, true);
  if (c.id.empty()) p.fail("'" + where + ".id' is empty");
  c.statement = p.string_at(j, "statement", where, true);
  c.source = p.string_at(j, "source", where, false);
  for (const char* side : {"better", "worse"})
    if (!j.contains(side)) p.fail("missing '" + std::string(side) + "'" + in_where(where));
  c.better = parse_selector(p, j.at("better"), where + ".better");
  c.worse = parse_selector(p, j.at("worse"), where + ".worse");
  c.metric = p.string_at(j, "metric", where, false, s.primary_metric);
  if (!s.metrics.count(c.metric)) {
    std::vector<std::string> names;
    for (const auto& [n, m] : s.metrics) names.push_back(n);
    p.fail("'" + where + ".metric' names unknown metric '" + c.metric + "'" + suggest(c.metric, names));
  }
  const std::string kind = p.string_at(j, "kind", where, false, "beats");
  if (kind == "beats") c.kind = Claim::Kind::beats;
  else if (kind == "not_worse") c.kind = Claim::Kind::not_worse;
  else p.fail("'" + where + ".kind' is '" + kind + "': expected beats or not_worse");
  if (j.contains("margin")) {
    const json& m = j.at("margin");
    if (!m.is_number()) p.fail("'" + where + ".margin' must be a number, got " + m.dump());
    c.margin = m.get<double>();
    if (!(c.margin >= 0)) p.fail("'" + where + ".margin' is " + m.dump() + ": must be >= 0");
    if (c.kind == Claim::Kind::beats && c.margin != 0)
      p.fail("'" + where + ".margin' only applies to kind \"not_worse\"");
  }
  const std::string test = p.string_at(j, "test", where, false, "welch");
  if (test == "welch") c.test = Claim::Test::welch;
  else if (test == "paired") c.test = Claim::Test::paired;
  else p.fail("'" + where + ".test' is '" + test + "': expected welch or paired");
  if (j.contains("tune")) {
    const std::string tw = where + ".tune";
    const json& t = j.at("tune");
    if (!t.is_object()) p.fail("'" + tw + "' must be an object, got " + t.dump());
    p.check_keys(t, kTuneKeys, tw);
    if (!t.contains("axes")) p.fail("missing 'axes' in " + tw);
    const json& axes = t.at("axes");
    if (!axes.is_array() || axes.empty()) p.fail("'" + tw + ".axes' must be a non-empty array of grid axes, got " + axes.dump());
    for (const json& a : axes) {
      if (!a.is_string()) p.fail("'" + tw + ".axes' must hold axis names, got " + a.dump());
      c.tune_axes.push_back(a.get<std::string>());
    }
    c.tune_by = p.string_at(t, "by", tw, true);
    if (!s.metrics.count(c.tune_by)) {
      std::vector<std::string> names;
      for (const auto& [n, m] : s.metrics) names.push_back(n);
      p.fail("'" + tw + ".by' names unknown metric '" + c.tune_by + "'" + suggest(c.tune_by, names));
    }
  }
  return c;
}

}  // namespace

const Variant* ExperimentSpec::find_variant(const std::string& n) const {
  for (const Variant& v : variants)
    if (v.name == n) return &v;
  return nullptr;
}

const MetricSpec& ExperimentSpec::metric(const std::string& n) const {
  const auto it = metrics.find(n);
  if (it == metrics.end()) {
    std::vector<std::string> names;
    for (const auto& [k, m] : metrics) names.push_back(k);
    throw ConfigError("experiment '" + name + "': unknown metric '" + n + "' (metrics: " + join(names) + ")");
  }
  return it->second;
}

ExperimentSpec parse_experiment(const json& j, const std::string& origin, const std::string& spec_dir) {
  const Parser p(origin);
  if (!j.is_object()) p.fail("an experiment spec must be a JSON object");
  p.check_keys(j, kTopKeys, "");
  ExperimentSpec s;
  s.raw = j;
  s.name = p.string_at(j, "name", "", true);
  if (!is_name(s.name, false)) p.fail("name '" + s.name + "' must match [a-z0-9_]+ (it names the sweep folder)");
  s.title = p.string_at(j, "title", "", false);
  s.question = p.string_at(j, "question", "", false);

  // Base: an inline config object or a config file relative to the spec file.
  if (!j.contains("base")) p.fail("missing 'base' (a train config object or a config file path)");
  const json& base = j.at("base");
  if (base.is_object()) {
    s.base = base;
  } else if (base.is_string()) {
    const fs::path rel = base.get<std::string>();
    const fs::path file = rel.is_absolute() ? rel : fs::path(spec_dir) / rel;
    std::ifstream in(file);
    if (!in) p.fail("base config file '" + rel.string() + "' not found (looked for " + file.string() + ")");
    std::stringstream ss;
    ss << in.rdbuf();
    s.base = parse_json_text(ss.str(), file.string());
    if (!s.base.is_object()) p.fail("base config file '" + file.string() + "' does not hold a JSON object");
  } else {
    p.fail("'base' must be a train config object or a config file path, got " + base.dump());
  }
  if (j.contains("set")) s.set = p.dotted_object(j.at("set"), "set");

  if (j.contains("variants")) {
    const json& vs = p.object_at(j, "variants", "variants");
    for (auto it = vs.begin(); it != vs.end(); ++it) {
      const std::string where = "variants." + it.key();
      if (!is_name(it.key(), true)) p.fail("variant name '" + it.key() + "' must match [A-Za-z0-9_]+ (it is part of run ids)");
      if (!it.value().is_object()) p.fail("'" + where + "' must be an object, got " + it.value().dump());
      p.check_keys(it.value(), kVariantKeys, where);
      Variant v;
      v.name = it.key();
      v.label = p.string_at(it.value(), "label", where, false, v.name);
      v.set = it.value().contains("set") ? p.dotted_object(it.value().at("set"), where + ".set") : json::object();
      s.variants.push_back(std::move(v));
    }
  }

  if (!j.contains("grid")) p.fail("missing 'grid' (axis -> array of values)");
  s.grid = parse_grid(p, j.at("grid"), "grid", s);

  if (!j.contains("metrics")) p.fail("missing 'metrics' (name -> {\"path\": ...})");
  const json& ms = p.object_at(j, "metrics", "metrics");
  if (ms.empty()) p.fail("'metrics' is empty: name at least one metric");
  for (auto it = ms.begin(); it != ms.end(); ++it) {
    const std::string where = "metrics." + it.key();
    if (!it.value().is_object()) p.fail("'" + where + "' must be an object, got " + it.value().dump());
    p.check_keys(it.value(), kMetricKeys, where);
    MetricSpec m;
    m.name = it.key();
    m.path = p.string_at(it.value(), "path", where, true);
    p.check_dotted_key(m.path, where + ".path");
    m.label = p.string_at(it.value(), "label", where, false, m.path);
    if (it.value().contains("higher_is_better")) {
      const json& h = it.value().at("higher_is_better");
      if (!h.is_boolean()) p.fail("'" + where + ".higher_is_better' must be true or false, got " + h.dump());
      m.higher_is_better = h.get<bool>();
    }
    if (it.value().contains("diverged_value")) {
      const json& d = it.value().at("diverged_value");
      if (!d.is_number()) p.fail("'" + where + ".diverged_value' must be a number, got " + d.dump());
      m.diverged_value = d.get<double>();
    }
    s.metrics[m.name] = m;
  }
  s.primary_metric = p.string_at(j, "primary_metric", "", false, ms.begin().key());
  if (!s.metrics.count(s.primary_metric))
    p.fail("'primary_metric' names unknown metric '" + s.primary_metric + "'" + suggest(s.primary_metric, [&] {
             std::vector<std::string> n;
             for (const auto& [k, m] : s.metrics) n.push_back(k);
             return n;
           }()));

  if (j.contains("claims")) {
    const json& cs = j.at("claims");
    if (!cs.is_array()) p.fail("'claims' must be an array, got " + cs.dump());
    std::set<std::string> ids;
    for (size_t i = 0; i < cs.size(); ++i) {
      s.claims.push_back(parse_claim(p, cs[i], "claims." + std::to_string(i), s));
      if (!ids.insert(s.claims.back().id).second) p.fail("claim id '" + s.claims.back().id + "' is used twice");
    }
  }

  validate_against_grid(p, s);

  if (j.contains("profiles")) {
    const json& ps = p.object_at(j, "profiles", "profiles");
    for (auto it = ps.begin(); it != ps.end(); ++it) {
      if (it.key().empty() || it.key() == "full")
        p.fail("profile name '" + it.key() + "' is reserved (\"full\" is the spec as written)");
      s.profiles[it.key()] = parse_profile(p, it.value(), "profiles." + it.key(), s);
    }
  }
  // Each profile must leave a valid spec (e.g. not drop a value a claim selects): check now,
  // not when a sweep starts.
  for (const auto& [name, prof] : s.profiles) (void)apply_profile_from(s, name, origin);
  return s;
}

ExperimentSpec load_experiment(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open experiment file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  const json j = parse_json_text(ss.str(), path);
  const fs::path dir = fs::path(path).parent_path();
  ExperimentSpec s = parse_experiment(j, path, dir.empty() ? "." : dir.string());
  s.spec_file = path;
  return s;
}

namespace {
ExperimentSpec apply_profile_from(const ExperimentSpec& spec, const std::string& profile, const std::string& origin) {
  if (profile.empty() || profile == "full") return spec;
  const Parser p(origin);
  const auto it = spec.profiles.find(profile);
  if (it == spec.profiles.end()) {
    std::vector<std::string> names = {"full"};
    for (const auto& [n, pr] : spec.profiles) names.push_back(n);
    p.fail("unknown profile '" + profile + "' (profiles: " + join(names) + ")");
  }
  ExperimentSpec s = spec;
  for (auto kv = it->second.set.begin(); kv != it->second.set.end(); ++kv) s.set[kv.key()] = kv.value();
  for (const GridAxis& a : it->second.grid)
    for (GridAxis& mine : s.grid)
      if (mine.key == a.key) mine.values = a.values;
  validate_against_grid(Parser(origin + ": with profile '" + profile + "'"), s);
  return s;
}
}  // namespace

ExperimentSpec apply_profile(const ExperimentSpec& spec, const std::string& profile) {
  return apply_profile_from(spec, profile, spec.spec_file.empty() ? "experiment '" + spec.name + "'" : spec.spec_file);
}

json spec_to_json(const ExperimentSpec& s) {
  json j = json::object();
  j["name"] = s.name;
  if (!s.title.empty()) j["title"] = s.title;
  if (!s.question.empty()) j["question"] = s.question;
  j["base"] = s.base;
  j["set"] = s.set;
  if (!s.variants.empty()) {
    json vs = json::object();
    for (const Variant& v : s.variants) vs[v.name] = json{{"set", v.set}, {"label", v.label}};
    j["variants"] = vs;
  }
  json grid = json::object();
  for (const GridAxis& a : s.grid) grid[a.key] = a.values;
  j["grid"] = grid;
  // Metrics in file order, from raw (std::map sorts them); fall back to the map.
  json ms = json::object();
  if (s.raw.is_object() && s.raw.contains("metrics"))
    for (auto it = s.raw.at("metrics").begin(); it != s.raw.at("metrics").end(); ++it)
      if (s.metrics.count(it.key())) ms[it.key()] = nullptr;
  for (const auto& [n, m] : s.metrics) {
    json mj = {{"path", m.path}, {"label", m.label}, {"higher_is_better", m.higher_is_better}};
    if (m.diverged_value) mj["diverged_value"] = *m.diverged_value;
    ms[n] = mj;
  }
  j["metrics"] = ms;
  j["primary_metric"] = s.primary_metric;
  json cs = json::array();
  for (const Claim& c : s.claims) {
    json cj = {{"id", c.id}, {"statement", c.statement}, {"source", c.source}};
    cj["better"] = json::object();
    for (const auto& [k, v] : c.better) cj["better"][k] = v;
    cj["worse"] = json::object();
    for (const auto& [k, v] : c.worse) cj["worse"][k] = v;
    cj["metric"] = c.metric;
    cj["kind"] = c.kind == Claim::Kind::beats ? "beats" : "not_worse";
    cj["margin"] = c.margin;
    cj["test"] = c.test == Claim::Test::paired ? "paired" : "welch";
    if (!c.tune_axes.empty()) cj["tune"] = {{"axes", c.tune_axes}, {"by", c.tune_by}};
    cs.push_back(cj);
  }
  j["claims"] = cs;
  return j;
}

}  // namespace nl::lab
