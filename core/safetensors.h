// safetensors files: the checkpoint format PyTorch and Hugging Face users read. Layout
// (https://github.com/huggingface/safetensors, "Format"):
//   8 bytes     N, the header length, unsigned little-endian
//   N bytes     a JSON object {name: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
//               "__metadata__": {string: string}}, padded with spaces to 8-byte alignment
//   the rest    the byte buffer; tensor `name` is bytes [b, e) of it, row-major little-endian
// normlab writes and reads float32 ("F32") tensors only. Writing goes to a temporary file in
// the same folder that is renamed over the target, so a crash never leaves a torn file.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsContents {
  NamedTensors tensors;                          // in data-offset order
  std::map<std::string, std::string> metadata;   // the "__metadata__" object

  bool contains(const std::string& name) const;
  // The tensor called `name`; DataError when absent.
  const Tensor& at(const std::string& name) const;
};

// Writes `tensors` (names unique, not "__metadata__"; any contiguous float32 tensors) and
// `metadata` to `path` atomically. Throws ValueError on bad names, DataError on I/O failure.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates a file: header length within the file, header a JSON object, every
// entry F32 with a shape whose size matches its offsets, offsets contiguous and covering the
// whole buffer. Any violation (or truncation) is a DataError naming the file.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace nl
