// What the data side hands to models and the trainer: a padded batch with its mask, and the
// description of a dataset (task kind, sizes) that models are built from.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nl {

enum class TaskKind {
  classification,  // targets (B): class ids; model output (B, num_classes) logits
  regression,      // targets (B): real values; model output (B) predictions
  language_model,  // targets (B,T): next-token ids (padding masked); output (B,T,vocab) logits
};
const char* task_name(TaskKind k);

struct DatasetInfo {
  TaskKind task = TaskKind::classification;
  int64_t num_classes = 0;   // classification: number of classes
  int64_t vocab_size = 0;    // > 0: inputs are token ids in [0, vocab_size); 0: real features
  int64_t feature_dim = 0;   // real features per step (sequences) or per example (flat data)
  bool sequential = true;    // false: flat examples (B, feature_dim), no time axis, no mask
  int64_t max_length = 0;    // longest sequence in any split (positional tables size from it)
  std::vector<std::string> class_names;  // optional, for reports
  std::vector<std::string> vocab;        // optional: the text of each token id (character data)
};

struct Batch {
  Tensor inputs;   // (B,T,F) real features | (B,T) token ids | (B,F) flat features
  Tensor mask;     // (B,T): 1 real step, 0 padding (undefined for flat data)
  Tensor lengths;  // (B): valid length of each sequence (undefined for flat data)
  Tensor targets;  // see TaskKind
  int64_t size() const { return inputs.defined() ? inputs.size(0) : 0; }
};

// Rows [begin, end) of every defined tensor of the batch (inputs, mask, lengths, targets), as
// copies; the time axis keeps its length. A data-parallel rank's shard of the global batch.
// ValueError unless 0 <= begin < end <= size().
Batch slice_rows(const Batch& b, int64_t begin, int64_t end);

}  // namespace nl
