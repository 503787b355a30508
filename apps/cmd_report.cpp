// `normlab report`: placeholder registration, replaced by the real command (lab issue).
#include "apps/commands.h"

namespace nl::cli {

void register_report(CLI::App& app) { app.add_subcommand("report", "(being built)"); }

}  // namespace nl::cli
