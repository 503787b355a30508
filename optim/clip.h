// Gradient clipping by the global L2 norm over all parameters (as torch.nn.utils.clip_grad_norm_).
#pragma once
#include "optim/optimizer.h"

namespace nl {

// The L2 norm of all gradients together (parameters without a gradient count as zero),
// accumulated in double in parameter order, so it is deterministic.
double global_grad_norm(const NamedParams& params);

// Scales every gradient by max_norm / (norm + 1e-6) when that factor is below 1 (the 1e-6
// keeps a zero norm finite, as PyTorch does); returns the norm before clipping.
// A non-finite norm is returned unchanged and no gradient is touched.
double clip_grad_norm(const NamedParams& params, double max_norm);

}  // namespace nl
