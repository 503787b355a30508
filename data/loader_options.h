// How a DataLoader cuts a split into batches: batch size, shuffling, bucketing by length,
// padding mode, drop_last. Read from the config's "data.loader" section (batch_size comes
// from the trainer's "train.batch_size").
#pragma once
#include <cstdint>

#include "core/config_reader.h"

namespace nl {

enum class LengthMode {
  batch,  // variable length: pad each batch to its longest sequence
  fixed,  // fixed length: pad every batch to the split's longest sequence (constant T)
};

struct LoaderOptions {
  int64_t batch_size = 32;
  bool shuffle = true;         // a new order every epoch, from the loader's own Rng
  int64_t bucket_batches = 0;  // k > 0: sort by length within chunks of k batches, then
                               // shuffle the batch order (less padding); 0: no bucketing
  bool drop_last = false;      // drop the final partial batch of each epoch
  LengthMode length_mode = LengthMode::batch;

  // The options for evaluating a split: same batch size and padding, in order, every example.
  LoaderOptions for_eval() const {
    LoaderOptions o = *this;
    o.shuffle = false;
    o.bucket_batches = 0;
    o.drop_last = false;
    return o;
  }
};

// Reads shuffle, bucket_batches, drop_last and length_mode from `cfg` (the "data.loader"
// section) and finishes it. batch_size is left at its default for the caller to set.
LoaderOptions read_loader_options(ConfigReader& cfg);

}  // namespace nl
