// `normlab explain`: placeholder registration, replaced by the real command (lab issue).
#include "apps/commands.h"

namespace nl::cli {

void register_explain(CLI::App& app) { app.add_subcommand("explain", "(being built)"); }

}  // namespace nl::cli
