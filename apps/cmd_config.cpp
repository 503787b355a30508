// `normlab config`: print the full default config of a model type, the reference of every key
// (docs/config.md is this output), or validate a config without training.
#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "train/config_docs.h"
#include "train/experiment.h"

namespace nl::cli {

namespace {

struct ConfigArgs {
  std::vector<std::string> defaults;  // 0 or 1 value: the model type
  std::string data;
  bool markdown = false;
  std::string check;
  std::vector<std::string> sets;
};

void run_config(const ConfigArgs& a, const CLI::App& cmd) {
  const bool defaults = cmd.count("--defaults") > 0;
  if (defaults + a.markdown + !a.check.empty() != 1)
    throw ConfigError("give exactly one of --defaults [MODEL], --markdown, --check CONFIG.json");
  if (defaults) {
    std::cout << default_config(a.defaults.empty() ? "" : a.defaults.front(), a.data).dump(2) << "\n";
  } else if (a.markdown) {
    std::cout << config_reference_markdown();
  } else {
    build_experiment(load_config_with_overrides(a.check, a.sets));
    std::cout << a.check << ": ok\n";
  }
}

}  // namespace

void register_config(CLI::App& app) {
  auto a = std::make_shared<ConfigArgs>();
  auto* cmd = app.add_subcommand("config", "Print default configs and the config reference, or check a config");
  cmd->add_option("--defaults", a->defaults,
                  "Print the full effective config (every key with its default) for MODEL "
                  "(default: the default model)")
      ->expected(0, 1)
      ->type_name("[MODEL]");
  cmd->add_option("--data", a->data, "With --defaults: the dataset type (default: the first that fits)")
      ->type_name("TYPE");
  cmd->add_flag("--markdown", a->markdown, "Print the reference of every key as Markdown (docs/config.md)");
  cmd->add_option("--check", a->check, "Validate CONFIG.json (with any --set) without training; exit 2 if invalid")
      ->type_name("CONFIG.json");
  cmd->add_option("--set", a->sets, "With --check: override KEY=VALUE (as for train)")->type_name("KEY=VALUE")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);  // one value per --set
  cmd->callback([a, cmd] { run_config(*a, *cmd); });
}

}  // namespace nl::cli
