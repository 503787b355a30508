// AlignedVector: std::vector whose storage starts on a 64-byte cache line, for the kernels'
// scratch arrays (per-chunk partial sums, per-channel coefficients) that inner loops load and
// store as 16-float vectors. malloc aligns to 16 bytes only, and a 64-byte vector access at a
// 16-byte offset straddles two cache lines: two loads or stores instead of one, in loops bound
// by their loads and stores (docs/performance.md, eighth round).
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace nl {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, std::size_t n) noexcept { ::operator delete(p, n * sizeof(T), kAlign); }

  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept { return true; }
};

template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

// n rounded up to whole cache lines of T (so that consecutive slices of a buffer stay aligned).
template <class T>
constexpr std::size_t cache_line_multiple(std::size_t n) {
  constexpr std::size_t per_line = 64 / sizeof(T);
  return (n + per_line - 1) / per_line * per_line;
}

}  // namespace nl
