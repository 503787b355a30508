// Strict, self-documenting configuration reading. Every component reads its JSON through a
// ConfigReader: each get() declares a key with its type, default, range and a one-line doc.
// The same calls (1) validate a user's config (wrong type or out-of-range -> ConfigError naming
// the key and the allowed range), (2) fill in defaults into the effective config, and (3)
// after finish(), reject unknown keys with the closest valid one as a suggestion. Run on an
// empty object they produce the full default config and the docs (docs/config.md).
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nl {

using json = nlohmann::ordered_json;

// One documented key, as declared by a get() call.
struct KeyDoc {
  std::string key;      // dotted path, e.g. "model.norm.eps"
  std::string type;     // "integer", "number", "boolean", "string", "object", "array"
  json default_value;
  std::string range;    // "[1, 65536]", "one of: none, layernorm", or ""
  std::string doc;
};

class ConfigReader {
 public:
  // `source` is the user's object (may be null/empty); `path` the dotted prefix for messages.
  // Documentation and the effective config are collected in shared sinks.
  ConfigReader(const json& source, std::string path);

  int64_t get_int(const std::string& key, int64_t def, const std::string& doc,
                  int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max());
  double get_number(const std::string& key, double def, const std::string& doc,
                    double min = -std::numeric_limits<double>::infinity(),
                    double max = std::numeric_limits<double>::infinity());
  bool get_bool(const std::string& key, bool def, const std::string& doc);
  std::string get_string(const std::string& key, const std::string& def, const std::string& doc,
                         const std::vector<std::string>& allowed = {});
  // A list of integers (e.g. hidden sizes), each within [min, max].
  std::vector<int64_t> get_int_list(const std::string& key, const std::vector<int64_t>& def,
                                    const std::string& doc, int64_t min = 1,
                                    int64_t max = std::numeric_limits<int64_t>::max());
  // A nested object (an absent key reads as {}). The sub-reader shares the sinks.
  ConfigReader sub(const std::string& key, const std::string& doc);
  // An array of objects (e.g. a Sequential's "layers"); an absent key reads as []. Each
  // element gets its own sub-reader (path "key.0", "key.1", ...) sharing the sinks; call
  // finish() on each after reading it.
  std::vector<ConfigReader> get_object_list(const std::string& key, const std::string& doc);
  bool has(const std::string& key) const;

  // Throws ConfigError for the first key present in the source that no get() declared,
  // suggesting the closest declared key. Call after all gets of this object.
  void finish();

  const std::string& path() const { return path_; }
  std::string full_key(const std::string& key) const;
  // The effective config (defaults filled in) collected so far, from the root.
  const json& effective() const { return *root_effective_; }
  // Every key declared so far, in declaration order (shared across sub-readers).
  const std::vector<KeyDoc>& docs() const { return *docs_; }

  // A ConfigError for `key` of this object (for checks across keys, e.g. min <= max).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

 private:
  ConfigReader(const json* source, std::string path, json::json_pointer where,
               std::shared_ptr<json> root_effective, std::shared_ptr<std::vector<KeyDoc>> docs);
  // This object's node in the effective config (looked up by path each time: ordered_json
  // keeps children in a vector, so references into it do not stay valid).
  json& effective_node() { return (*root_effective_)[where_]; }
  const json* find(const std::string& key);
  void declare(const std::string& key, const std::string& type, const json& def,
               const std::string& range, const std::string& doc);

  const json* source_;
  std::string path_;
  json::json_pointer where_;
  std::shared_ptr<json> root_effective_;
  std::shared_ptr<std::vector<KeyDoc>> docs_;
  std::vector<std::string> declared_;
};

// Edit distance, for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b);
// The closest candidate to `word` (empty when none is reasonably close).
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" with x = closest_match(word, candidates), or "" when none is close:
// the suffix of every "unknown name" error.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// Applies one `--set key=value` override (dotted key, JSON value; a bare word is taken as a
// string) onto `config`, creating intermediate objects.
void apply_override(json& config, const std::string& assignment);

// Parses JSON text; a syntax error becomes a ConfigError with line and column.
json parse_json_text(const std::string& text, const std::string& origin);
json load_json_file(const std::string& path);

}  // namespace nl
