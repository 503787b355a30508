// Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019) with PyTorch's formulas
// (torch.optim.Adam / AdamW, amsgrad off). For parameter step t (1 on its first update):
//   Adam:  g ← g + wd·p            AdamW:  p ← p·(1 − lr·wd)   (decoupled decay)
//   m ← β₁·m + (1−β₁)·g;  v ← β₂·v + (1−β₂)·g²
//   p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)        (ε outside the square root)
#pragma once
#include "optim/optimizer.h"

namespace nl {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // true = AdamW
};

class Adam : public Optimizer {
 public:
  Adam(NamedParams params, const AdamOptions& options);
  std::string type_name() const override { return options_.decoupled ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  void update(size_t i, float* p, const float* g, int64_t n, int64_t t, int64_t offset) override;

 private:
  AdamOptions options_;
};

// AdamW: Adam with decoupled weight decay (PyTorch's default weight_decay 0.01).
inline AdamOptions adamw_options(double lr = 1e-3, double weight_decay = 1e-2) {
  AdamOptions o;
  o.lr = lr;
  o.weight_decay = weight_decay;
  o.decoupled = true;
  return o;
}

}  // namespace nl
