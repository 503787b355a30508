// Fuzz target: a config file's text -> parse_json_text -> build_experiment. Any input must end
// in a normlab error (ConfigError/DataError/...) or a built experiment, never a crash,
// sanitizer report or hang. To keep each input fast, configs with numbers beyond +-2000 or
// naming data files (dir) or file-backed datasets are only parsed, not built (the file
// loaders have their own targets), and the build runs under a 64 MiB allocation budget.
#include <cmath>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/memory_guard.h"
#include "train/experiment.h"

namespace {

bool small_numbers(const nl::json& j) {
  if (j.is_object() || j.is_array()) {
    for (const auto& v : j)
      if (!small_numbers(v)) return false;
    return true;
  }
  if (j.is_number()) return std::abs(j.get<double>()) <= 2000.0;
  return true;
}

bool buildable(const nl::json& cfg) {
  if (!cfg.is_object() || !small_numbers(cfg)) return false;
  const auto data = cfg.find("data");
  if (data == cfg.end() || !data->is_object()) return true;
  if (data->contains("dir")) return false;
  const auto type = data->find("type");
  return type == data->end() || !type->is_string() ||
         (*type != "fashion_mnist" && *type != "words" && *type != "text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nl::json cfg = nl::parse_json_text(text, "fuzz.json");
    if (!buildable(cfg)) return 0;
    nl::MemoryBudget budget(64u << 20);
    nl::Experiment ex = nl::build_experiment(cfg);
    (void)ex.config.dump();
  } catch (const nl::Error&) {
  }
  return 0;
}
