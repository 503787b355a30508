#include "core/config_reader.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/json_depth.h"

namespace nl {
namespace {

std::string type_of(const json& v) {
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  return "null";
}

std::string num_str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

const json& empty_object() {
  static const json e = json::object();
  return e;
}

}  // namespace

// ---- construction ----------------------------------------------------------------------------
ConfigReader::ConfigReader(const json& source, std::string path)
    : ConfigReader(&source, std::move(path), json::json_pointer(), std::make_shared<json>(json::object()),
                   std::make_shared<std::vector<KeyDoc>>()) {}

ConfigReader::ConfigReader(const json* source, std::string path, json::json_pointer where,
                           std::shared_ptr<json> root_effective,
                           std::shared_ptr<std::vector<KeyDoc>> docs)
    : source_(source && !source->is_null() ? source : &empty_object()),
      path_(std::move(path)),
      where_(std::move(where)),
      root_effective_(std::move(root_effective)),
      docs_(std::move(docs)) {
  if (!source_->is_object())
    throw ConfigError("'" + (path_.empty() ? std::string("config") : path_) +
                      "' must be a JSON object, got " + type_of(*source_));
}

std::string ConfigReader::full_key(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void ConfigReader::fail(const std::string& key, const std::string& message) const {
  throw ConfigError("'" + full_key(key) + "': " + message);
}

const json* ConfigReader::find(const std::string& key) {
  auto it = source_->find(key);
  return it == source_->end() ? nullptr : &*it;
}

void ConfigReader::declare(const std::string& key, const std::string& type, const json& def,
                           const std::string& range, const std::string& doc) {
  declared_.push_back(key);
  const std::string fk = full_key(key);
  for (const KeyDoc& d : *docs_)
    if (d.key == fk) return;  // documented once even when read several times
  docs_->push_back({fk, type, def, range, doc});
}

bool ConfigReader::has(const std::string& key) const { return source_->contains(key); }

// ---- typed getters ---------------------------------------------------------------------------
int64_t ConfigReader::get_int(const std::string& key, int64_t def, const std::string& doc,
                              int64_t min, int64_t max) {
  std::string range;
  if (min != std::numeric_limits<int64_t>::min() || max != std::numeric_limits<int64_t>::max())
    range = "[" + (min == std::numeric_limits<int64_t>::min() ? "-inf" : std::to_string(min)) +
            ", " + (max == std::numeric_limits<int64_t>::max() ? "inf" : std::to_string(max)) + "]";
  declare(key, "integer", def, range, doc);
  int64_t v = def;
  if (const json* j = find(key)) {
    // Accept 3 and 3.0 (and 1e3 from --set), reject 2.5, "3" and values beyond int64.
    if (j->is_number_unsigned() && j->get<uint64_t>() > static_cast<uint64_t>(max))
      fail(key, "value " + j->dump() + " is out of range " + range);
    if (j->is_number_float()) {
      const double d = j->get<double>();
      if (!(d == std::floor(d)) || !(std::fabs(d) < 9.2e18))
        fail(key, "expected an integer, got number " + j->dump());
      v = static_cast<int64_t>(d);
    } else if (j->is_number_integer() || j->is_number_unsigned()) {
      v = j->get<int64_t>();
    } else {
      fail(key, "expected an integer, got " + type_of(*j) + " " + j->dump());
    }
    if (v < min || v > max) fail(key, "value " + std::to_string(v) + " is out of range " + range);
  }
  effective_node()[key] = v;
  return v;
}

double ConfigReader::get_number(const std::string& key, double def, const std::string& doc,
                                double min, double max) {
  std::string range;
  if (std::isfinite(min) || std::isfinite(max))
    range = "[" + (std::isfinite(min) ? num_str(min) : "-inf") + ", " +
            (std::isfinite(max) ? num_str(max) : "inf") + "]";
  declare(key, "number", def, range, doc);
  double v = def;
  if (const json* j = find(key)) {
    if (!j->is_number()) fail(key, "expected a number, got " + type_of(*j) + " " + j->dump());
    v = j->get<double>();
    if (!(v >= min && v <= max)) fail(key, "value " + num_str(v) + " is out of range " + range);
  }
  effective_node()[key] = v;
  return v;
}

bool ConfigReader::get_bool(const std::string& key, bool def, const std::string& doc) {
  declare(key, "boolean", def, "", doc);
  bool v = def;
  if (const json* j = find(key)) {
    if (!j->is_boolean()) fail(key, "expected true or false, got " + type_of(*j) + " " + j->dump());
    v = j->get<bool>();
  }
  effective_node()[key] = v;
  return v;
}

std::string ConfigReader::get_string(const std::string& key, const std::string& def,
                                     const std::string& doc,
                                     const std::vector<std::string>& allowed) {
  std::string range;
  for (size_t i = 0; i < allowed.size(); ++i) range += (i ? ", " : "one of: ") + allowed[i];
  declare(key, "string", def, range, doc);
  std::string v = def;
  if (const json* j = find(key)) {
    if (!j->is_string()) fail(key, "expected a string, got " + type_of(*j) + " " + j->dump());
    v = j->get<std::string>();
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
      fail(key, "'" + v + "' is not " + range + did_you_mean(v, allowed));
    }
  }
  effective_node()[key] = v;
  return v;
}

std::vector<int64_t> ConfigReader::get_int_list(const std::string& key,
                                                const std::vector<int64_t>& def,
                                                const std::string& doc, int64_t min, int64_t max) {
  const std::string range = "each in [" + std::to_string(min) + ", " +
                            (max == std::numeric_limits<int64_t>::max() ? "inf" : std::to_string(max)) + "]";
  declare(key, "array", def, range, doc);
  std::vector<int64_t> v = def;
  if (const json* j = find(key)) {
    if (!j->is_array()) fail(key, "expected an array of integers, got " + type_of(*j) + " " + j->dump());
    v.clear();
    for (const json& e : *j) {
      if (!e.is_number_integer() ||
          (e.is_number_unsigned() && e.get<uint64_t>() > static_cast<uint64_t>(max)))
        fail(key, "expected integers " + range + ", got " + e.dump());
      const int64_t x = e.get<int64_t>();
      if (x < min || x > max) fail(key, "element " + std::to_string(x) + " is out of range: " + range);
      v.push_back(x);
    }
  }
  effective_node()[key] = v;
  return v;
}

ConfigReader ConfigReader::sub(const std::string& key, const std::string& doc) {
  declare(key, "object", json::object(), "", doc);
  const json* j = find(key);
  if (j && !j->is_object()) fail(key, "expected an object, got " + type_of(*j) + " " + j->dump());
  json& child = effective_node()[key];
  if (!child.is_object()) child = json::object();
  return ConfigReader(j, full_key(key), where_ / key, root_effective_, docs_);
}

std::vector<ConfigReader> ConfigReader::get_object_list(const std::string& key,
                                                       const std::string& doc) {
  declare(key, "array", json::array(), "array of objects", doc);
  const json* j = find(key);
  if (j && !j->is_array()) fail(key, "expected an array of objects, got " + type_of(*j) + " " + j->dump());
  const size_t n = j ? j->size() : 0;
  for (size_t i = 0; i < n; ++i)
    if (!(*j)[i].is_object())
      fail(key + "." + std::to_string(i), "expected an object, got " + type_of((*j)[i]) + " " + (*j)[i].dump());
  effective_node()[key] = json::array();
  for (size_t i = 0; i < n; ++i) effective_node()[key].push_back(json::object());
  std::vector<ConfigReader> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back(ConfigReader(&(*j)[i], full_key(key) + "." + std::to_string(i), where_ / key / i,
                               root_effective_, docs_));
  return out;
}

void ConfigReader::finish() {
  for (auto it = source_->begin(); it != source_->end(); ++it) {
    if (std::find(declared_.begin(), declared_.end(), it.key()) != declared_.end()) continue;
    const std::string near = closest_match(it.key(), declared_);
    std::string msg = "unknown key '" + full_key(it.key()) + "'";
    if (!near.empty()) msg += " — did you mean '" + full_key(near) + "'?";
    else {
      msg += " (valid keys:";
      for (const auto& k : declared_) msg += " " + k;
      msg += ")";
    }
    throw ConfigError(msg);
  }
}

// ---- helpers ---------------------------------------------------------------------------------
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  // Close enough, in order of preference: at most a third of the word's length in edits (at
  // least 2 allowed); a candidate that the word is a prefix of, or that is a prefix of the word
  // ("eval" -> "eval_interval"); a candidate with the same first '_'-separated word of 3+
  // letters ("eval_every" -> "eval_interval", 6 edits apart). Within each, the fewest edits
  // win, ties go to the earlier candidate.
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  auto first_word = [](const std::string& s) { return s.substr(0, s.find('_')); };
  const std::string head = first_word(word);
  struct Best {
    std::string name;
    size_t edits = std::string::npos;
    void offer(const std::string& c, size_t d) {
      if (d < edits) {
        edits = d;
        name = c;
      }
    }
  } near, prefix, same_head;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d <= limit) near.offer(c, d);
    if (word.size() >= 2 && c.size() >= 2 && (c.rfind(word, 0) == 0 || word.rfind(c, 0) == 0))
      prefix.offer(c, d);
    if (head.size() >= 3 && head.size() < word.size() && first_word(c) == head)
      same_head.offer(c, d);
  }
  if (!near.name.empty()) return near.name;
  return prefix.name.empty() ? same_head.name : prefix.name;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string near = closest_match(word, candidates);
  return near.empty() ? "" : " (did you mean '" + near + "'?)";
}

void apply_override(json& config, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set expects key=value, got '" + assignment + "'");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  if (text.empty()) throw ConfigError("--set '" + key + "=' has no value");
  if (std::count(key.begin(), key.end(), '.') >= kMaxJsonDepth)
    throw ConfigError("--set '" + key.substr(0, 40) + "...': key nested too deeply (limit " +
                      std::to_string(kMaxJsonDepth) + ")");
  if (std::any_of(key.begin(), key.end(), [](unsigned char c) { return c < 0x20; }))
    throw ConfigError("--set: a key may not contain control characters");
  try {  // the config is JSON text again later (config.json, messages): UTF-8 only
    (void)json(key).dump();
  } catch (const json::type_error&) {
    throw ConfigError("--set: a key is not valid UTF-8");
  }
  try {
    (void)json(text).dump();
  } catch (const json::type_error&) {
    throw ConfigError("--set: the value for '" + key + "' is not valid UTF-8");
  }
  if (json_too_deep(text))
    throw ConfigError("--set '" + key + "': value nested too deeply (limit " +
                      std::to_string(kMaxJsonDepth) + ")");
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {  // not JSON (or a number beyond double, e.g. 1e999)
    value = text;  // a bare word such as layernorm
  }
  json* node = &config;
  size_t start = 0;
  for (;;) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throw ConfigError("--set: malformed key '" + key + "'");
    if (!node->is_object()) throw ConfigError("--set: '" + key + "' goes through a non-object value");
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = json::object();
    start = dot + 1;
  }
}

json parse_json_text(const std::string& text, const std::string& origin) {
  if (json_too_deep(text))
    throw ConfigError(origin + ": config nested too deeply (limit " + std::to_string(kMaxJsonDepth) + ")");
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    // Translate the byte offset into line and column.
    size_t line = 1, col = 1;
    for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    // Keep nlohmann's explanation, without its own "[json.exception...] parse error at ...:".
    std::string what = e.what();
    const size_t p = what.find("syntax error");
    throw ConfigError(origin + ":" + std::to_string(line) + ":" + std::to_string(col) +
                      ": malformed JSON: " + (p == std::string::npos ? what : what.substr(p)));
  } catch (const json::exception& e) {  // e.g. a number beyond the range of a double
    const std::string what = e.what();
    const size_t p = what.find("] ");
    throw ConfigError(origin + ": malformed JSON: " + (p == std::string::npos ? what : what.substr(p + 2)));
  }
}

json load_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot open config file '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_json_text(ss.str(), path);
}

}  // namespace nl
