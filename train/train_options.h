// The "train" section of a run config: how long to train, batch size and the intervals of
// logging, evaluation and checkpoints. Every key is declared (typed, ranged, documented) in
// read_train_options, which is also what `normlab config` and docs/config.md are made from.
#pragma once
#include <cstdint>
#include <vector>

#include "core/config_reader.h"

namespace nl {

struct TrainOptions {
  int64_t steps = 1000;             // optimizer steps (0: use epochs)
  int64_t epochs = 0;               // > 0: train this many passes over the train split
  int64_t batch_size = 32;
  int64_t log_interval = 10;        // steps between train-metric log lines
  int64_t eval_interval = 100;      // steps between val evaluations (0: only at the end)
  int64_t eval_batches = 0;         // batches per evaluation (0: the whole split)
  int64_t checkpoint_interval = 0;  // steps between checkpoints (0: only at the end)
  bool bn_train_mode_eval = true;   // BN models: also evaluate val with batch statistics
  int64_t bn_eval_batch_size = 0;   // batch size of that evaluation (0: batch_size)
  std::vector<int64_t> length_buckets;
  bool causal_probe = true;         // language models: the causal-leak probe at the end  // upper edges of the eval length buckets ([] = automatic)

  // The number of steps to run given the train split's batches per epoch.
  int64_t total_steps(int64_t batches_per_epoch) const {
    return epochs > 0 ? epochs * batches_per_epoch : steps;
  }
};

// Reads and validates the "train" section and finishes it (unknown keys fail).
TrainOptions read_train_options(ConfigReader& cfg);

}  // namespace nl
