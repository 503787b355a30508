// GroupNorm (Wu & He 2018, arXiv 1803.08494) for channel-last inputs (N,C) and (B,T,C): at each
// position the C channels are split into `groups` contiguous groups of C/groups, each group is
// normalised on its own (biased variance, eps inside the sqrt), then a per-channel affine
// gamma, beta (C) is applied. groups = 1 is LayerNorm over C; groups = C is per-channel
// "instance" normalisation of single values (constant output beta). Statistics never mix
// positions, so padding cannot leak (unlike PyTorch's GroupNorm on (B,C,T), which also
// normalises over T). The kernels are LayerNorm's with the affine repeating every `groups`
// rows (layers/kernels/layernorm.h).
#pragma once
#include "core/config_reader.h"
#include "core/tensor.h"
#include "layers/kernels/norm_common.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

namespace kernels {
// Naive double GroupNorm of x viewed as (R, C); gamma/beta (C) and dy optional.
// ref.mean / ref.var are per (row, group).
NormReference groupnorm_reference(const Tensor& x, int64_t groups, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps);
}  // namespace kernels

// GroupNorm over the last axis of x (C divisible by groups); weight, bias (C) or undefined.
// Differentiable in x, weight and bias.
Tensor group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                  float eps = 1e-5f);

struct GroupNormOptions {
  int64_t features = 0;  // C
  int64_t groups = 1;    // divides C
  double eps = 1e-5;
  bool affine = true;  // per-channel weight and bias
};

class GroupNorm : public Module {
 public:
  explicit GroupNorm(const GroupNormOptions& options);
  // x: (..., C) -> same shape; per position, so forward_masked's mask is not needed.
  Tensor forward(const Tensor& x) override;
  void reset_parameters() override;  // weight = 1, bias = 0
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;

  const GroupNormOptions& options() const { return options_; }
  Tensor weight, bias;  // (C); undefined without affine

 private:
  GroupNormOptions options_;
};

// Registry factory. Keys: features (default: the parent's width), groups, eps, affine.
ModulePtr make_groupnorm(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
