// Bucketed gradient all-reduce (see train/gradient_sync.h).
#include "train/gradient_sync.h"

#include <algorithm>
#include <cstring>

#include "core/distributed.h"
#include "core/error.h"

namespace nl {

GradientSync::GradientSync(std::vector<std::pair<std::string, Tensor>> params, int64_t bucket_bytes)
    : params_(std::move(params)) {
  if (bucket_bytes < static_cast<int64_t>(sizeof(float)))
    throw ValueError("GradientSync: bucket size must be at least one float, got " + std::to_string(bucket_bytes));
  const int64_t cap = bucket_bytes / static_cast<int64_t>(sizeof(float));
  // Parameters in order, a new bucket when the next one would overflow the current (a
  // parameter larger than a bucket gets one of its own).
  Bucket b;
  for (size_t i = 0; i < params_.size(); ++i) {
    const int64_t n = params_[i].second.numel();
    if (b.last > b.first && b.values + n > cap) {
      buckets_.push_back(b);
      b = Bucket{i, i, 0};
    }
    b.last = i + 1;
    b.values += n;
  }
  if (b.last > b.first) buckets_.push_back(b);
  int64_t largest = 0;
  for (const Bucket& k : buckets_) largest = std::max<int64_t>(largest, k.values + static_cast<int64_t>(k.last - k.first));
  if (dist::active()) buffer_.resize(static_cast<size_t>(largest));
}

void GradientSync::allreduce_gradients() {
  if (!dist::active()) return;
  for (const Bucket& k : buckets_) {
    // Pack: the gradients (zeros where a parameter has none), then one presence flag per
    // parameter (summed, it says whether any rank has a gradient for it).
    float* buf = buffer_.data();
    int64_t at = 0;
    const int64_t flags = k.values;
    for (size_t i = k.first; i < k.last; ++i) {
      const Tensor& p = params_[i].second;
      const Tensor g = p.grad();
      const int64_t n = p.numel();
      if (g.defined())
        std::memcpy(buf + at, g.data(), static_cast<size_t>(n) * sizeof(float));
      else
        std::fill(buf + at, buf + at + n, 0.0f);
      buf[flags + static_cast<int64_t>(i - k.first)] = g.defined() ? 1.0f : 0.0f;
      at += n;
    }
    const int64_t total = k.values + static_cast<int64_t>(k.last - k.first);
    dist::allreduce_sum(buf, total);
    // Unpack.
    at = 0;
    for (size_t i = k.first; i < k.last; ++i) {
      Tensor& p = params_[i].second;
      const int64_t n = p.numel();
      if (buf[flags + static_cast<int64_t>(i - k.first)] > 0.0f) {
        // A fresh tensor: backward may have handed two leaves the same gradient storage.
        Tensor g = Tensor::empty(p.shape());
        std::memcpy(g.data(), buf + at, static_cast<size_t>(n) * sizeof(float));
        p.set_grad(g);
      }
      at += n;
    }
  }
}

void GradientSync::broadcast_from_root(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  if (!dist::active()) return;
  // One message: a few large transfers instead of one per tensor (this runs once per session).
  int64_t total = 0;
  for (const auto& [_, t] : tensors) total += t.numel();
  std::vector<float> buf(static_cast<size_t>(total));
  int64_t at = 0;
  for (const auto& [_, t] : tensors) {
    std::copy(t.data(), t.data() + t.numel(), buf.data() + at);
    at += t.numel();
  }
  dist::broadcast(buf.data(), total, 0);
  at = 0;
  for (auto [_, t] : tensors) {
    std::copy(buf.data() + at, buf.data() + at + t.numel(), t.data());
    at += t.numel();
  }
}

double parameter_checksum(const std::vector<std::pair<std::string, Tensor>>& tensors) {
  double s = 0;
  int64_t k = 0;
  for (const auto& [_, t] : tensors) {
    const float* p = t.data();
    for (int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(p[i]) * static_cast<double>(1 + (k++ % 9973));
  }
  return s;
}

}  // namespace nl
