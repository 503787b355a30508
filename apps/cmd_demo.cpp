// `normlab demo`: placeholder until the lab lands.
#include <iostream>

#include "apps/commands.h"

namespace nl::cli {
void register_demo(CLI::App& app) {
  app.add_subcommand("demo", "Train a tiny model and print the loss going down")->callback([] {});
}
}  // namespace nl::cli
