// DataLoader: cuts one split into padded Batches (inputs, mask (B,T), lengths (B), targets),
// reshuffling every epoch with its own Rng, optionally bucketing by length, and iterating by
// step count across epochs. Its whole state is six integers (epoch, position in the epoch, the
// Rng state that drew the epoch's order), so a resumed run sees exactly the same batches.
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/loader_options.h"

namespace nl {

struct LoaderState {
  uint64_t epoch = 0;     // epochs started before the current one
  uint64_t position = 0;  // batches of the current epoch already returned
  Rng::State rng{};       // the loader Rng's state before it drew the current epoch's order

  std::vector<uint64_t> to_vector() const;  // [epoch, position, rng0..rng3]
  static LoaderState from_vector(const std::vector<uint64_t>& v);
  json to_json() const;  // {"epoch":..,"position":..,"rng":[..4 strings..]}
  static LoaderState from_json(const json& j);
  bool operator==(const LoaderState& o) const {
    return epoch == o.epoch && position == o.position && rng == o.rng;
  }
};

class DataLoader {
 public:
  // `data` must outlive the loader. `seed` is the run seed: the loader derives its own stream.
  DataLoader(const Dataset& data, const DatasetInfo& info, const LoaderOptions& options,
             uint64_t seed);

  // The next batch, starting a new epoch (with a new order) when the current one is done.
  Batch next();
  int64_t batches_per_epoch() const { return static_cast<int64_t>(batch_order_.size()); }
  int64_t epoch() const { return static_cast<int64_t>(epoch_); }
  int64_t position() const { return static_cast<int64_t>(position_); }
  bool epoch_done() const { return position_ == batch_order_.size(); }
  const LoaderOptions& options() const { return opt_; }

  LoaderState state() const;
  void set_state(const LoaderState& s);

  // Example indices of the current epoch's batch b (for tests and debugging).
  std::vector<int64_t> batch_indices(int64_t b) const;
  // Builds the batch of the given examples (any order); used by next().
  Batch make_batch(const int64_t* indices, int64_t count) const;

 private:
  void start_epoch();  // draws the order for epoch_ from rng_

  const Dataset* data_;
  DatasetInfo info_;
  LoaderOptions opt_;
  Rng rng_;
  Rng::State epoch_rng_{};
  uint64_t epoch_ = 0;
  uint64_t position_ = 0;
  std::vector<int64_t> order_;        // example indices, batches are contiguous runs of it
  std::vector<int64_t> batch_start_;  // batch b' covers order_[batch_start_[b'], batch_start_[b'+1])
  std::vector<int64_t> batch_order_;  // the epoch's batch sequence (indices into batch_start_)
};

}  // namespace nl
