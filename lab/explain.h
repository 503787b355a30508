// `normlab explain`: the worked example every LayerNorm-vs-BatchNorm explainer draws, computed
// by the library's own norm layers and printed for an 80-column terminal: a small B×F
// activation table; BN's per-feature statistics (down the batch) and LN's per-example
// statistics (across features), with the axis named; both normalised tables; γ/β applied;
// what normalized_shape means for a (B, T, C) input; BN at batch 1 (the error) and with a
// padded row (masked vs unmasked statistics).
#pragma once
#include <cstdint>
#include <iostream>

#include "core/tensor.h"

namespace nl::lab {

struct ExplainOptions {
  int64_t batch = 4;
  int64_t features = 5;
  uint64_t seed = 0;
  bool padded = false;  // add the padded-sequence (B,T,C) section; a padded-row one always prints
  std::ostream* out = &std::cout;
};

// Limits of the options (the tables must fit an 80-column terminal up to 6 features).
constexpr int64_t kExplainMaxBatch = 16;
constexpr int64_t kExplainMinFeatures = 2, kExplainMaxFeatures = 8;

// Throws ConfigError naming the flag (--batch, --features) when an option is out of range.
void validate(const ExplainOptions& opt);

// The B×F activation table the walkthrough starts from: feature j ~ N(centre_j, scale_j) with
// scales from 0.1 to 20 (so BN's per-feature view and LN's per-example view differ visibly),
// drawn from Rng(seed) and rounded to 3 decimals, so the printed table is the input exactly.
Tensor explain_activations(const ExplainOptions& opt);

// Prints the walkthrough to *opt.out (validates first).
void explain(const ExplainOptions& opt);

}  // namespace nl::lab
