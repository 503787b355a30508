// Fuzz target: an experiment spec's text (experiments/*.json) -> parse_json_text (depth
// limited) -> nl::lab::parse_experiment, then for the spec as written and each of its profiles:
// apply_profile, expand_grid, spec_to_json dumped to text and parsed back (what a sweep writes
// to NAME/experiment.json and reads later), expanded again. Only normlab errors may come out;
// the round trip must give the same run ids, cells, seeds and configs (else abort()).
//
// "base" may name a config file. So that the fuzzer never reads arbitrary files (/dev/zero
// would never end, /etc/... is not ours), the harness resolves a string base only when it holds
// no '/' (no absolute path, no way up), against a scratch folder holding a few files of its own:
// base.json (a real config), array.json (JSON but not an object), garbage.json (not JSON) and
// deep.json (nested past the depth limit). Any other string is skipped.
// Grids of more than kMaxFuzzRuns runs (after any profile) are parsed but not expanded, so that
// each input stays fast.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "fuzz_util.h"
#include "lab/spec.h"

namespace {

constexpr double kMaxFuzzRuns = 256;

// The scratch folder with the files a string base may name (written once per process).
const std::string& base_dir() {
  static const std::string dir = [] {
    const std::filesystem::path d = nl::fuzz::scratch_dir() / "spec";
    std::filesystem::create_directories(d);
    std::ofstream(d / "base.json") << R"({"seed": 1, "data": {"type": "adding", "train_size": 32},)"
                                      R"( "model": {"type": "rnn_regressor", "hidden_size": 4},)"
                                      R"( "train": {"steps": 2, "batch_size": 8}})";
    std::ofstream(d / "array.json") << "[1, 2, 3]";
    std::ofstream(d / "garbage.json") << "{\"seed\": 1,, \xff";
    std::ofstream(d / "deep.json") << std::string(200, '[') << std::string(200, ']');
    return d.string();
  }();
  return dir;
}

bool safe_base(const nl::json& spec) {
  if (!spec.is_object()) return true;
  const auto it = spec.find("base");
  return it == spec.end() || !it->is_string() || it->get<std::string>().find('/') == std::string::npos;
}

double run_count(const nl::lab::ExperimentSpec& s) {
  double n = 1;
  for (const nl::lab::GridAxis& a : s.grid) n *= static_cast<double>(a.values.size());
  return n;
}

// Expands `s`, writes it as experiment.json would be written, reads that back, expands it
// again and checks that both give the same runs.
void check_round_trip(const nl::lab::ExperimentSpec& s) {
  if (run_count(s) > kMaxFuzzRuns) return;
  const std::vector<nl::lab::RunSpec> runs = nl::lab::expand_grid(s);
  const std::string text = nl::lab::spec_to_json(s).dump(2);
  // The spec as run must read back: an error here is a bug, not bad input.
  nl::lab::ExperimentSpec back;
  std::vector<nl::lab::RunSpec> again;
  try {
    back = nl::lab::parse_experiment(nl::parse_json_text(text, "experiment.json"), "experiment.json", base_dir());
    again = nl::lab::expand_grid(back);
  } catch (const nl::Error&) {
    std::abort();
  }
  if (runs.size() != again.size()) std::abort();
  for (size_t i = 0; i < runs.size(); ++i) {
    const nl::lab::RunSpec &a = runs[i], &b = again[i];
    if (a.id != b.id || a.cell_id != b.cell_id || a.seed != b.seed || a.cell != b.cell || a.config != b.config)
      std::abort();
  }
  if (back.name != s.name || back.primary_metric != s.primary_metric || back.claims.size() != s.claims.size())
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const nl::json j = nl::parse_json_text(text, "fuzz_spec.json");
    if (!safe_base(j)) return 0;
    const nl::lab::ExperimentSpec spec = nl::lab::parse_experiment(j, "fuzz_spec.json", base_dir());
    check_round_trip(nl::lab::apply_profile(spec, ""));
    for (const auto& [name, profile] : spec.profiles) check_round_trip(nl::lab::apply_profile(spec, name));
  } catch (const nl::Error&) {
  }
  return 0;
}
