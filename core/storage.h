// Storage: a reference-counted, 64-byte aligned float buffer, shared by tensors and views.
// Buffers come from a caching allocator: a freed buffer is kept in a size-class free list and
// handed out again, so a training loop whose shapes repeat allocates nothing new in its steady
// state (and large buffers are not page-faulted in again on every step).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

namespace nl {

class Storage {
 public:
  // Uninitialised storage for n floats (n may be 0).
  explicit Storage(int64_t n);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  float* data() { return data_; }
  const float* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  float* data_ = nullptr;
  int64_t size_ = 0;
  size_t capacity_bytes_ = 0;
};

struct AllocatorStats {
  int64_t live_storages = 0;   // Storage objects alive now
  int64_t cached_bytes = 0;    // bytes held in the free lists
  int64_t system_allocs = 0;   // times the allocator asked the system for memory (cumulative)
};
AllocatorStats allocator_stats();
// Returns every cached block to the system (tests, or when memory is tight).
void allocator_release_cache();

}  // namespace nl
