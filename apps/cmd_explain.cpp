// `normlab explain`: parse the options, print the LN-vs-BN worked example (lab/explain.h).
#include <memory>

#include "apps/commands.h"
#include "lab/explain.h"

namespace nl::cli {

void register_explain(CLI::App& app) {
  auto o = std::make_shared<lab::ExplainOptions>();
  auto* cmd = app.add_subcommand(
      "explain",
      "Show, with real numbers from normlab's own BatchNorm and LayerNorm, what each one "
      "normalises: a small batch x features table with BN's per-feature statistics (down the "
      "batch) and LN's per-example statistics (across features); both normalised tables; "
      "gamma/beta applied; what normalized_shape means for a (B, T, C) input; BN at batch 1 "
      "(its error, eval mode, LN); padding with masked vs unmasked BN statistics. Fits 80 "
      "columns up to 6 features.");
  cmd->add_option("--batch", o->batch, "Examples (rows) in the table, 1..16")->capture_default_str();
  cmd->add_option("--features", o->features, "Features (columns), 2..8")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random table")->capture_default_str();
  cmd->add_flag("--padded", o->padded,
                "Also show padded sequences (B, T, C) with a (B, T) mask: masked vs unmasked BN, "
                "LN per token");
  cmd->callback([o] { lab::explain(*o); });
}

}  // namespace nl::cli
