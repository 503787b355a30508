// Checkpoint files (see train/checkpoint.h).
#include "train/checkpoint.h"

#include "core/error.h"
#include "core/json_depth.h"

namespace nl {

namespace {
const std::string kOptimPrefix = "optim.";
}

void save_checkpoint(const std::string& path, const Module& model, const NamedTensors& optim_state,
                     int64_t step, const json& config, const json& train_state) {
  NamedTensors tensors = model.named_parameters();
  for (auto& nb : model.named_buffers()) tensors.push_back(nb);
  for (const auto& [name, t] : optim_state) tensors.emplace_back(kOptimPrefix + name, t);
  const std::map<std::string, std::string> meta = {
      {"format", kCheckpointFormat},
      {"format_version", std::to_string(kCheckpointVersion)},
      {"step", std::to_string(step)},
      {"config", config.dump()},
      {"train_state", train_state.dump()},
  };
  save_safetensors(path, tensors, meta);
}

Checkpoint load_checkpoint(const std::string& path) {
  SafetensorsContents c = load_safetensors(path);
  auto meta = [&](const std::string& key) -> const std::string& {
    auto it = c.metadata.find(key);
    if (it == c.metadata.end())
      throw DataError("checkpoint '" + path + "' has no '" + key + "' in its metadata (not a normlab checkpoint?)");
    return it->second;
  };
  if (meta("format") != kCheckpointFormat)
    throw DataError("checkpoint '" + path + "' has format '" + meta("format") + "', expected '" +
                    kCheckpointFormat + "'");
  if (meta("format_version") != std::to_string(kCheckpointVersion))
    throw DataError("checkpoint '" + path + "' has format version " + meta("format_version") +
                    "; this normlab reads version " + std::to_string(kCheckpointVersion));
  for (const char* key : {"config", "train_state"})
    if (json_too_deep(meta(key)))
      throw DataError("checkpoint '" + path + "': metadata '" + key + "' nested too deeply (limit " +
                      std::to_string(kMaxJsonDepth) + ")");
  Checkpoint ck;
  try {
    ck.step = std::stoll(meta("step"));
    ck.config = json::parse(meta("config"));
    ck.train_state = json::parse(meta("train_state"));
  } catch (const std::exception& e) {
    throw DataError("checkpoint '" + path + "': unreadable metadata (" + e.what() + ")");
  }
  for (auto& [name, t] : c.tensors) {
    if (name.rfind(kOptimPrefix, 0) == 0) ck.optim.emplace_back(name.substr(kOptimPrefix.size()), t);
    else ck.model.emplace_back(name, t);
  }
  return ck;
}

}  // namespace nl
