// Evaluating a model on one split: in eval mode (running statistics) or, for BatchNorm models,
// with batch statistics (train mode; buffers saved and restored, dropout off, so nothing the
// training sees changes). Returns the overall sums and, for variable-length data, the sums per
// length bucket (train/length_buckets.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/loader_options.h"
#include "models/model.h"
#include "train/length_buckets.h"
#include "train/task_loss.h"

namespace nl {

struct EvalOptions {
  bool batch_stats = false;          // train-mode normalisation (batch statistics)
  int64_t batch_size = 0;            // 0: the loader options' batch size
  bool shuffle = false;              // read the split in a seeded shuffled order
  uint64_t shuffle_seed = 0;         // the seed of that order (the same order every call)
  int64_t max_batches = 0;           // > 0: only the first max_batches batches
  bool by_length = true;             // per-length-bucket sums (variable-length data only)
  std::vector<int64_t> length_edges; // bucket upper edges ([] = automatic)
};

struct EvalResult {
  MetricSums total;
  LengthBuckets buckets;  // empty for fixed-length or flat data, or when by_length is off
  int64_t batch_size = 0;
};

// `loader` gives padding mode and the default batch size; the split is read in order
// (or shuffled with opt.shuffle), every example once, unless max_batches cuts it.
EvalResult evaluate_split(Model& model, TaskKind task, const Dataset& data, const DatasetInfo& info,
                          const LoaderOptions& loader, const EvalOptions& opt);

// Puts every Dropout module of the tree in eval mode (the rest keeps its mode): batch-statistics
// evaluation and the causal probe want BN's train mode without dropout's noise.
void dropout_off(Module& m);

// A copy of a module's buffers (running statistics, counters): a train-mode pass that must leave
// no trace takes one before and restores it after (bit for bit; parameters are not touched).
class BufferSnapshot {
 public:
  explicit BufferSnapshot(const Module& m);
  void restore(Module& m) const;

 private:
  std::map<std::string, Tensor> saved_;
};

}  // namespace nl
