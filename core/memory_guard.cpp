// Allocation guard and budgets (see core/memory_guard.h).
#include "core/memory_guard.h"

#include <unistd.h>

#include <cstdio>

namespace nl {

namespace {
thread_local MemoryBudget* g_budget = nullptr;
}

uint64_t physical_memory_bytes() {
  static const uint64_t bytes = [] {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
  }();
  return bytes;
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 6) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

void check_allocation(uint64_t bytes) {
  const uint64_t phys = physical_memory_bytes();
  if (phys == 0) return;  // unknown: nothing to check against
  if (bytes > phys)
    throw MemoryError("a buffer of " + format_bytes(bytes) + " is more than this machine's " +
                          format_bytes(phys) + " of memory",
                      bytes, phys);
  for (MemoryBudget* b = g_budget; b; b = b->outer_)
    if (b->used_ + bytes > b->limit_)
      throw MemoryError("allocations totalling at least " + format_bytes(b->used_ + bytes) +
                            " exceed the limit of " + format_bytes(b->limit_),
                        b->used_ + bytes, b->limit_);
  for (MemoryBudget* b = g_budget; b; b = b->outer_) b->used_ += bytes;
}

MemoryBudget::MemoryBudget(uint64_t limit_bytes) : limit_(limit_bytes), outer_(g_budget) { g_budget = this; }

MemoryBudget::~MemoryBudget() { g_budget = outer_; }

}  // namespace nl
