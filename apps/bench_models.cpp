// `normlab bench models`: (in progress) training-step timings of the reference workloads.
#include "apps/commands.h"

namespace nl::cli {
void register_bench_models(CLI::App&) {}
}  // namespace nl::cli
