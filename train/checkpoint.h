// Training checkpoints as safetensors files: the model's parameters and buffers under their
// dotted names (as named_parameters() gives them), optimizer state under "optim.<name>", and
// in the metadata the format version, the step, the effective config and the training state
// that is not a tensor (loader position and RNG states, running log sums) as JSON strings.
#pragma once
#include <cstdint>
#include <string>

#include "core/config_reader.h"
#include "core/safetensors.h"
#include "layers/module.h"

namespace nl {

constexpr const char* kCheckpointFormat = "normlab-checkpoint";
constexpr int kCheckpointVersion = 1;

struct Checkpoint {
  int64_t step = 0;
  json config;        // the effective config of the run
  json train_state;   // loader state, RNG states, ... (see train/trainer.cpp)
  NamedTensors model;  // parameters and buffers
  NamedTensors optim;  // optimizer state, names without the "optim." prefix
};

// Writes atomically (temp file + rename).
void save_checkpoint(const std::string& path, const Module& model, const NamedTensors& optim_state,
                     int64_t step, const json& config, const json& train_state);

// Reads and checks the format name and version (DataError naming the file otherwise).
Checkpoint load_checkpoint(const std::string& path);

}  // namespace nl
