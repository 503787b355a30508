// `normlab explain`: the worked example every LayerNorm-vs-BatchNorm explainer draws, computed
// by the library's own norm layers and printed for an 80-column terminal: a small B×F
// activation table; BN's per-feature statistics (down the batch) and LN's per-example
// statistics (across features), with the axis named; both normalised tables; γ/β applied;
// what normalized_shape means for a (B, T, C) input; BN at batch 1 (the error) and with a
// padded row (masked vs unmasked statistics).
#pragma once
#include <cstdint>
#include <iostream>

namespace nl::lab {

struct ExplainOptions {
  int64_t batch = 4;
  int64_t features = 5;
  uint64_t seed = 0;
  bool padded = false;  // add the padded-row section with masked vs unmasked BN
  std::ostream* out = &std::cout;
};

void explain(const ExplainOptions& opt);

}  // namespace nl::lab
