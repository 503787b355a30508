// `normlab bench norms`: (in progress) LayerNorm / BatchNorm kernel timings.
#include "apps/commands.h"

namespace nl::cli {
void register_bench_norms(CLI::App&) {}
}  // namespace nl::cli
