// Pooling over the time axis of padded sequences, shared by the sequence classifiers.
#pragma once
#include "core/tensor.h"

namespace nl {

// Mean over the valid steps of each sequence: x (B,T,C), mask (B,T) nonzero = valid (or
// undefined: all valid) -> (B,C). Padded steps get zero weight, so their values (and any
// gradient into them) never matter. A row with no valid step pools to zeros (not NaN).
Tensor masked_mean(const Tensor& x, const Tensor& mask);

}  // namespace nl
