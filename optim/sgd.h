// SGD with momentum, Nesterov momentum and L2 weight decay, with PyTorch's formulas
// (torch.optim.SGD, dampening 0):
//   g ← g + wd·p;  b ← μ·b + g;  g ← g + μ·b (Nesterov) or g ← b;  p ← p − lr·g.
// The momentum buffer starts at zero, which equals PyTorch's b₁ = g₁ when dampening is 0.
#pragma once
#include "optim/optimizer.h"

namespace nl {

struct SGDOptions {
  double lr = 1e-2;
  double momentum = 0.0;
  bool nesterov = false;  // requires momentum > 0
  double weight_decay = 0.0;
};

class SGD : public Optimizer {
 public:
  SGD(NamedParams params, const SGDOptions& options);
  std::string type_name() const override { return "SGD"; }
  const SGDOptions& options() const { return options_; }

 protected:
  void update(size_t i, float* p, const float* g, int64_t n, int64_t t, int64_t offset) override;

 private:
  SGDOptions options_;
};

}  // namespace nl
