// Length buckets of an evaluation (see train/length_buckets.h).
#include "train/length_buckets.h"

#include <algorithm>

#include "core/error.h"

namespace nl {

std::vector<int64_t> auto_length_edges(int64_t lo, int64_t hi) {
  std::vector<int64_t> edges;
  const int64_t span = hi - lo + 1;
  for (int64_t k = 1; k <= 4; ++k) {
    // Upper edge of bucket k: lo - 1 + ceil(k * span / 4); duplicates (tiny spans) collapse.
    const int64_t e = lo - 1 + (k * span + 3) / 4;
    if (edges.empty() || e > edges.back()) edges.push_back(e);
  }
  return edges;
}

LengthBuckets::LengthBuckets(const Dataset& data, const DatasetInfo& info, const std::vector<int64_t>& edges) {
  if (!info.sequential || data.empty()) return;
  for (size_t i = 1; i < edges.size(); ++i)
    if (edges[i] <= edges[i - 1]) throw ValueError("length bucket edges must be strictly increasing");
  int64_t lo = data.length(0), hi = lo;
  for (int64_t i = 1; i < data.size(); ++i) {
    lo = std::min(lo, data.length(i));
    hi = std::max(hi, data.length(i));
  }
  std::vector<int64_t> e = edges;
  int64_t first_min = 1;
  if (e.empty()) {
    if (lo == hi) return;  // one length: nothing to split
    e = auto_length_edges(lo, hi);
    first_min = lo;
  }
  if (hi > e.back()) e.push_back(hi);  // longer than the last edge: one more bucket
  int64_t prev = first_min - 1;
  for (int64_t edge : e) {
    buckets_.push_back(LengthBucket{prev + 1, edge, MetricSums{}});
    prev = edge;
  }
  examples_.assign(buckets_.size(), 0);
}

int64_t LengthBuckets::index_of(int64_t length) const {
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (length >= buckets_[i].min_length && length <= buckets_[i].max_length) return static_cast<int64_t>(i);
  return -1;
}

void LengthBuckets::add(const Batch& batch, const TaskLoss& t) {
  if (buckets_.empty()) return;
  const int64_t B = batch.size();
  if (!batch.lengths.defined() || static_cast<int64_t>(t.example_count.size()) != B)
    throw ValueError("LengthBuckets::add needs the batch's lengths and per-example sums");
  std::vector<char> touched(buckets_.size(), 0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t k = index_of(static_cast<int64_t>(batch.lengths.data()[b]));
    if (k < 0) continue;
    MetricSums& s = buckets_[k].sums;
    s.loss_sum += t.example_loss[b];
    s.metric_sum += t.example_metric[b];
    s.count += t.example_count[b];
    ++examples_[k];
    touched[k] = 1;
  }
  for (size_t k = 0; k < buckets_.size(); ++k) buckets_[k].sums.batches += touched[k];
}

json LengthBuckets::to_json(const std::string& metric) const {
  json out = json::array();
  for (size_t k = 0; k < buckets_.size(); ++k) {
    if (examples_[k] == 0) continue;
    const LengthBucket& b = buckets_[k];
    json r = json::object();
    r["min_length"] = b.min_length;
    r["max_length"] = b.max_length;
    r["count"] = examples_[k];
    r["loss"] = b.sums.loss();
    r[metric] = b.sums.metric();
    out.push_back(r);
  }
  return out;
}

}  // namespace nl
