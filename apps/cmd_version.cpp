// `normlab version`: the version, the BLAS in use, the thread count and MPI support.
#include <cblas.h>

#include <iostream>

#include "apps/commands.h"
#include "core/distributed.h"
#include "core/threading.h"

namespace nl::cli {

int& exit_code_ref() {
  static int code = 0;
  return code;
}

void register_version(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version, BLAS configuration and threads");
  cmd->callback([] {
    std::cout << "normlab " << NORMLAB_VERSION << "\n"
              << "blas: " << openblas_get_config() << "\n"
              << "threads: " << num_threads() << "\n"
              << "mpi: "
              << (dist::built_with_mpi() ? "built with Open MPI (world size " + std::to_string(dist::size()) + ")"
                                         : std::string("not built"))
              << "\n";
  });
}

}  // namespace nl::cli
