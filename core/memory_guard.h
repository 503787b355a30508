// Refusing allocations the machine cannot hold, before they happen. Every Storage asks
// check_allocation() first: a single buffer larger than the physical memory is a MemoryError
// (without this, a malloc under Linux overcommit "succeeds" and the first write to the pages
// gets the process OOM-killed). While a MemoryBudget is alive on a thread (build_experiment
// wraps model construction in one), the bytes of every buffer it allocates are added up and
// the total may not exceed the budget either, so many moderately sized layers are refused too.
#pragma once
#include <cstdint>
#include <string>

#include "core/error.h"

namespace nl {

// More memory asked for than the machine has; `requested` is the total that triggered it.
struct MemoryError : Error {
  MemoryError(const std::string& what, uint64_t requested, uint64_t available)
      : Error(what), requested(requested), available(available) {}
  uint64_t requested, available;
};

// Physical memory of the machine in bytes (sysconf; 0 when unknown).
uint64_t physical_memory_bytes();

// Throws MemoryError when `bytes` (one buffer) plus what the active budget has counted so far
// exceeds the limit (physical memory without a budget).
void check_allocation(uint64_t bytes);

// "3.6 TiB", "512.0 MiB", ...
std::string format_bytes(uint64_t bytes);

// Counts the bytes allocated on this thread while alive; nested budgets each count them, and
// an allocation must fit all of them.
class MemoryBudget {
 public:
  explicit MemoryBudget(uint64_t limit_bytes);
  ~MemoryBudget();
  MemoryBudget(const MemoryBudget&) = delete;
  MemoryBudget& operator=(const MemoryBudget&) = delete;
  uint64_t used() const { return used_; }
  uint64_t limit() const { return limit_; }

 private:
  friend void check_allocation(uint64_t bytes);
  uint64_t limit_, used_ = 0;
  MemoryBudget* outer_;
};

}  // namespace nl
