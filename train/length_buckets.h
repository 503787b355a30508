// Per-length-bucket evaluation for variable-length data: which examples fall into which length
// bucket, and the loss/metric sums of each bucket, kept exactly like the evaluation's overall
// MetricSums (per example for one-value targets, per valid token for language models).
// Buckets are inclusive length ranges [min_length, max_length]. Given upper edges e1 < e2 <
// ... they are [1, e1], [e1+1, e2], ..., plus [ek+1, split max] when the split holds longer
// sequences. Without edges: 4 equal-width buckets over the split's own length range, or none
// when every sequence has the same length. Flat (non-sequential) data never has buckets.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/config_reader.h"
#include "data/dataset.h"
#include "train/task_loss.h"

namespace nl {

struct LengthBucket {
  int64_t min_length = 0, max_length = 0;  // inclusive
  MetricSums sums;                         // batches counts the batches that added to it
};

class LengthBuckets {
 public:
  LengthBuckets() = default;
  // The buckets for `data` (see the file comment); `edges` must be strictly increasing.
  LengthBuckets(const Dataset& data, const DatasetInfo& info, const std::vector<int64_t>& edges);

  bool empty() const { return buckets_.empty(); }
  const std::vector<LengthBucket>& buckets() const { return buckets_; }
  // The bucket of a sequence of this length (-1 when none holds it).
  int64_t index_of(int64_t length) const;
  // Adds a batch's per-example sums (t from task_loss(..., per_example = true)); each example
  // goes to the bucket of batch.lengths[b].
  void add(const Batch& batch, const TaskLoss& t);
  // [{"min_length", "max_length", "count", "loss", metric}...] for the buckets that hold
  // examples; "count" is the number of examples (for language models the loss and metric are
  // still averaged per token).
  json to_json(const std::string& metric) const;

 private:
  std::vector<LengthBucket> buckets_;
  std::vector<int64_t> examples_;  // examples per bucket
};

// The automatic upper edges: 4 equal-width buckets over [lo, hi] (fewer when hi - lo < 3).
std::vector<int64_t> auto_length_edges(int64_t lo, int64_t hi);

}  // namespace nl
