// An IDX header may declare far more data than its file holds (found by the idx fuzz target:
// 19 bytes declaring 1 GiB). The reader must fail on the truncation without allocating and
// clearing the declared size first.
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>

#include "data/idx.h"
#include "helpers.h"

using namespace nl;

TEST_CASE("IDX: a header declaring 1 GiB in a tiny file fails without allocating it", "[data][idx]") {
  const auto path = std::filesystem::temp_directory_path() / ("normlab_idx_big_" + std::to_string(::getpid()) + ".gz");
  // dims 8 x 1 x 134217728: 1 GiB of pixels declared, 3 bytes present.
  write_idx_gz(path.string(), {8, 1, 134217728}, {1, 2, 3});
  struct rusage before {}, after {};
  getrusage(RUSAGE_SELF, &before);
  REQUIRE_THROWS_MENTIONING(read_idx(path.string(), 2051), "truncated", "needs 1073741824 bytes", "has only 3");
  getrusage(RUSAGE_SELF, &after);
  CHECK(after.ru_maxrss - before.ru_maxrss < 256 * 1024);  // KiB: well under the declared 1 GiB
  std::filesystem::remove(path);
}
