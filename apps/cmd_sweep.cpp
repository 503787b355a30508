// `normlab sweep`: placeholder registration, replaced by the real command (lab issue).
#include "apps/commands.h"

namespace nl::cli {

void register_sweep(CLI::App& app) { app.add_subcommand("sweep", "(being built)"); }

}  // namespace nl::cli
