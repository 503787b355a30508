// Finite-difference gradient check: central differences against autograd on the scalar
// f = sum(out * R) with a fixed random R, for every input that requires grad. One harness
// for every op and layer; a failure reports the worst element with both values.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace nl {

struct GradcheckOptions {
  float eps = 1e-2f;   // finite-difference step (float32: smaller steps drown in rounding)
  double atol = 2e-3;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 2e-2;
  uint64_t seed = 1234;  // for R
  int64_t max_checks_per_input = 4096;  // larger inputs are checked on a strided subset
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the worst element: input, flat index, analytic and numeric values
  double worst_excess = 0.0;  // max over elements of |a-n| - (atol + rtol*|n|)
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace nl
