// `normlab report SWEEP_DIR`: writes SWEEP_DIR/report.md and report.html (figures by gnuplot)
// from a sweep folder and prints the claims' verdicts.
#include <filesystem>

#include "apps/commands.h"
#include "core/error.h"
#include "lab/report.h"

namespace nl::cli {

void register_report(CLI::App& app) {
  auto* cmd = app.add_subcommand("report",
                                 "Write report.md and report.html (tables, verdicts, figures) for a sweep folder "
                                 "and print the verdicts");
  auto opt = std::make_shared<lab::ReportOptions>();
  cmd->add_option("sweep_dir", opt->sweep_dir, "The sweep folder (holds sweep.json)")->required();
  cmd->add_option("--gnuplot", opt->gnuplot,
                  "The gnuplot program for the figures (\"\" or not found: figures are skipped and listed)")
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", [opt](int64_t) { opt->print_summary = false; }, "Do not print the summary");
  cmd->callback([opt] {
    if (!std::filesystem::is_directory(opt->sweep_dir))
      throw ConfigError("report: sweep folder '" + opt->sweep_dir + "' does not exist");
    lab::write_report(*opt);
  });
}

}  // namespace nl::cli
