// Gradient synchronisation for data-parallel training (docs/distributed.md): after each rank's
// backward pass, the gradients of all ranks are summed so every rank's optimizer sees the same
// gradient (the loss weighting in the trainer makes that sum the gradient of the global-batch
// mean). Gradients are packed into flat float buckets of about `bucket_bytes` and each bucket
// is one dist::allreduce_sum — a step does a few large collectives, not one per parameter.
// A parameter without a gradient on some rank counts as zero there; one without a gradient on
// every rank keeps none (the optimizer then skips it on every rank, as without MPI).
// In a world of one every call is a no-op.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl {

class GradientSync {
 public:
  static constexpr int64_t kDefaultBucketBytes = int64_t{4} << 20;

  // `params`: the model's named parameters, in the same order on every rank.
  explicit GradientSync(std::vector<std::pair<std::string, Tensor>> params,
                        int64_t bucket_bytes = kDefaultBucketBytes);

  // Sums every parameter's gradient over the ranks, in place.
  void allreduce_gradients();

  // Copies rank 0's values of these tensors (parameters, buffers) to every rank.
  static void broadcast_from_root(const std::vector<std::pair<std::string, Tensor>>& tensors);

  // Buckets: the parameter index range [first, last) each one packs.
  int64_t num_buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket {
    size_t first = 0, last = 0;  // parameters [first, last)
    int64_t values = 0;          // gradient elements (a presence flag per parameter follows)
  };
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<Bucket> buckets_;
  std::vector<float> buffer_;  // the largest bucket, reused
};

// A checksum of tensor values (sum of index-weighted values in double), equal on two ranks
// exactly when their replicas hold the same bits (up to a collision nobody arranges).
double parameter_checksum(const std::vector<std::pair<std::string, Tensor>>& tensors);

}  // namespace nl
