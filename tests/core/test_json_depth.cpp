// Deeply nested JSON from users is refused with a one-line error instead of exhausting the
// stack: config text, --set values, safetensors headers and checkpoint metadata.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/config_reader.h"
#include "core/json_depth.h"
#include "core/safetensors.h"
#include "helpers.h"

using namespace nl;

namespace {

std::string nested(int depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

}  // namespace

TEST_CASE("json depth: counts brackets outside strings only", "[core][json_depth]") {
  CHECK_FALSE(json_too_deep(nested(kMaxJsonDepth)));
  CHECK(json_too_deep(nested(kMaxJsonDepth + 1)));
  CHECK_FALSE(json_too_deep("{\"a\": \"" + std::string(1000, '[') + "\"}"));
  CHECK_FALSE(json_too_deep("[\"\\\"" + std::string(1000, '{') + "\"]"));  // escaped quote
  CHECK(json_too_deep("{\"a\": " + nested(200) + "}"));
  CHECK_FALSE(json_too_deep(std::string(10000, ']')));  // unbalanced closers are the parser's job
}

TEST_CASE("json depth: a deeply nested config is a ConfigError naming the limit", "[core][json_depth]") {
  const std::string text = "{\"model\": " + nested(50000) + "}";
  REQUIRE_THROWS_MENTIONING(parse_json_text(text, "deep.json"), "deep.json",
                            "config nested too deeply (limit 128)");
  json cfg = json::object();
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "model.hidden=" + nested(50000)), "model.hidden",
                            "nested too deeply (limit 128)");
  // Normal nesting still parses.
  CHECK(parse_json_text("{\"a\": " + nested(100) + "}", "ok.json").is_object());
}

TEST_CASE("json depth: a safetensors header nested too deeply is a DataError", "[core][json_depth]") {
  const auto path = std::filesystem::temp_directory_path() / ("normlab_deep_" + std::to_string(::getpid()) + ".st");
  std::string header = "{\"__metadata__\": {\"x\": \"y\"}, \"t\": " + nested(50000, '{', '}') + "}";
  while (header.size() % 8) header += ' ';
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  std::ofstream(path, std::ios::binary) << bytes << header;
  const std::string p = path.string();
  REQUIRE_THROWS_MENTIONING(load_safetensors(p), p.c_str(), "nested too deeply");
  std::filesystem::remove(path);
}

TEST_CASE("json: a number beyond double and invalid UTF-8 in --set are ConfigErrors", "[core][json_depth][config]") {
  // Found by the config and override fuzz targets: both escaped as JSON library exceptions.
  REQUIRE_THROWS_MENTIONING(parse_json_text("{\"seed\": 1e999}", "big.json"), "big.json", "malformed JSON",
                            "number overflow");
  json cfg = json::object();
  apply_override(cfg, "seed=1e999");  // not a JSON number: kept as text, the range check rejects it
  CHECK(cfg["seed"] == "1e999");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "model.type=\xff"), "model.type", "not valid UTF-8");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, std::string("\0=\xff", 3)), "control characters");
  REQUIRE_THROWS_MENTIONING(apply_override(cfg, "\xff=1"), "key is not valid UTF-8");
}
