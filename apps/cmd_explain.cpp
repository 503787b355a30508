// `normlab explain`: parse the options, print the LN-vs-BN worked example (lab/explain.h).
#include <memory>

#include "apps/commands.h"
#include "lab/explain.h"

namespace nl::cli {

void register_explain(CLI::App& app) {
  auto o = std::make_shared<lab::ExplainOptions>();
  auto* cmd = app.add_subcommand(
      "explain",
      "The LayerNorm-vs-BatchNorm worked example, with real numbers from normlab's own\n"
      "BatchNorm and LayerNorm layers, for an 80-column terminal (up to 6 features):\n"
      "  1-2. a batch x features table; BN's mean/std per feature (down the batch axis)\n"
      "       under it, LN's mean/std per example (across the feature axis) beside it\n"
      "  3.   both normalised tables        4. gamma/beta applied, and why they exist\n"
      "  5.   what normalized_shape [C] vs [T, C] means for a (B, T, C) input\n"
      "  6.   batch 1: BN's train-mode error, BN in eval mode, LN\n"
      "  7.   padding: masked vs unmasked BN statistics, LN per row unaffected");
  cmd->add_option("--batch", o->batch, "Examples (rows) in the table, 1..16")->capture_default_str();
  cmd->add_option("--features", o->features, "Features (columns), 2..8")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Seed of the random table")->capture_default_str();
  cmd->add_flag("--padded", o->padded,
                "Add 7b: padded (B, T, C) sequences, masked BN");
  cmd->callback([o] { lab::explain(*o); });
}

}  // namespace nl::cli
