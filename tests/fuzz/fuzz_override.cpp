// Fuzz target: `--set KEY=VALUE` override parsing. Each input line is one assignment applied
// to a config object; the result is dumped and read back through a ConfigReader walk. Only
// normlab errors may come out.
#include <cstdint>
#include <sstream>
#include <string>

#include "core/config_reader.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  nl::json cfg = nl::json::object();
  std::string line;
  while (std::getline(in, line)) {
    try {
      nl::apply_override(cfg, line);
    } catch (const nl::Error&) {
    }
  }
  try {
    (void)nl::parse_json_text(cfg.dump(), "override");
  } catch (const nl::Error&) {  // key depth + value depth may pass the limit together
  }
  return 0;
}
