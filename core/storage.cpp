#include "core/storage.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/memory_guard.h"

namespace nl {
namespace {

constexpr size_t kAlign = 64;
// Blocks of at least this size start on a huge-page boundary and are offered to the kernel as
// transparent huge pages (madvise: in the kernel's "madvise" THP mode, this machine's, only advised
// memory gets them). A 32 MB array then takes 16 TLB entries instead of 8192: in paired runs the
// norm kernels at 8192x1024 ran 1.01-1.03x faster and a DRAM triad 1.04-1.06x; the training steps,
// whose tensors are smaller, did not change (docs/performance-history.md, sixth round;
// scripts/thp-ab.cpp). NORMLAB_HUGE_PAGES=0 turns it off, for A/B measurements.
constexpr size_t kHugePage = size_t(2) << 20;

bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* env = std::getenv("NORMLAB_HUGE_PAGES");
    return !(env && std::string(env) == "0");
  }();
  return wanted;
}

void* system_alloc(size_t cls) {
  if (cls >= kHugePage && huge_pages_wanted()) {
    void* p = nullptr;
    if (posix_memalign(&p, kHugePage, cls) != 0) throw std::bad_alloc();
    // Advice only: where THP is off or no huge page is free, the block keeps 4 KiB pages.
    madvise(p, cls / kHugePage * kHugePage, MADV_HUGEPAGE);
    return p;
  }
  void* p = std::aligned_alloc(kAlign, cls);
  if (!p) throw std::bad_alloc();
  return p;
}

// The cache never holds more than this; blocks freed beyond it go back to the system.
constexpr size_t kMaxCachedBytes = size_t(2) << 30;

// Size classes: 64-byte multiples up to 4 KiB, then 8 steps per power of two (<= 12.5 %
// waste), so variable-length batches still find a cached block of their class.
size_t size_class(size_t bytes) {
  if (bytes <= 4096) return (bytes + kAlign - 1) / kAlign * kAlign;
  size_t pow2 = 4096;
  while (pow2 * 2 < bytes) pow2 *= 2;
  const size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_lists;
  size_t cached_bytes = 0;
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> system_allocs{0};

  void* take(size_t cls) {
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = free_lists.find(cls);
      if (it != free_lists.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        cached_bytes -= cls;
        return p;
      }
    }
    system_allocs.fetch_add(1, std::memory_order_relaxed);
    return system_alloc(cls);
  }
  void give(void* p, size_t cls) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (cached_bytes + cls <= kMaxCachedBytes) {
        free_lists[cls].push_back(p);
        cached_bytes += cls;
        return;
      }
    }
    std::free(p);
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [cls, list] : free_lists)
      for (void* p : list) std::free(p);
    free_lists.clear();
    cached_bytes = 0;
  }
  ~Cache() { release(); }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: storages may outlive static destructors
  return *c;
}

}  // namespace

Storage::Storage(int64_t n) : size_(n) {
  if (n > 0) check_allocation(static_cast<uint64_t>(n) * sizeof(float));  // before any allocation
  cache().live.fetch_add(1, std::memory_order_relaxed);
  if (n > 0) {
    capacity_bytes_ = size_class(static_cast<size_t>(n) * sizeof(float));
    data_ = static_cast<float*>(cache().take(capacity_bytes_));
  }
}

Storage::~Storage() {
  if (data_) cache().give(data_, capacity_bytes_);
  cache().live.fetch_sub(1, std::memory_order_relaxed);
}

AllocatorStats allocator_stats() {
  AllocatorStats s;
  Cache& c = cache();
  s.live_storages = c.live.load();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    s.cached_bytes = static_cast<int64_t>(c.cached_bytes);
  }
  s.system_allocs = c.system_allocs.load();
  return s;
}

void allocator_release_cache() { cache().release(); }

}  // namespace nl
