// Fuzz target: arbitrary bytes as a safetensors file (the checkpoint format), read by
// load_safetensors and by load_checkpoint (metadata parsing). Only DataErrors may come out.
#include <cstdint>

#include "core/error.h"
#include "core/safetensors.h"
#include "fuzz_util.h"
#include "train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nl::fuzz::write_file("checkpoint.safetensors", data, size);
  try {
    nl::SafetensorsContents c = nl::load_safetensors(path);
    for (const auto& [name, t] : c.tensors) (void)t.numel();
  } catch (const nl::Error&) {
  }
  try {
    nl::Checkpoint ck = nl::load_checkpoint(path);
    (void)ck.config.dump();
  } catch (const nl::Error&) {
  }
  return 0;
}
