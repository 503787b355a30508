// Elman RNN over batch-first (B,T,F) sequences with a validity mask and an optional norm inside
// the cell:  a_t = W_ih x_t + b_ih + b_hh + W_hh h_{t-1};  h_t = f(norm(a_t))  where the step
// is valid, h_t = h_{t-1} where it is padding.
//   norm = none           h_t = f(a_t)                               (PyTorch nn.RNN)
//          layernorm      one LayerNorm over H, one γ/β shared over time (Ba et al. 2016, eq. 4)
//          batchnorm      one BatchNorm applied at every step, running statistics shared over
//                         time, each step's batch statistics over that step's valid rows only
//          batchnorm_step separate running statistics per time step (Cooijmans et al. 2016);
//                         steps past `steps` reuse the last step's statistics
//          rmsnorm        RMSNorm over H
// With either BatchNorm, a training step with fewer than 2 valid rows (the tail of a
// variable-length batch, pitfall 11) is normalised with running statistics, which it does not
// update (BatchNorm::forward_step); a step where no row is valid is skipped entirely.
// Unmasked BatchNorm (norm_masked = false, PyTorch's behaviour): every row of every step enters
// the step's statistics, padded rows too. A padded row's pre-activation there is
// W_ih x_pad + b + W_hh h_carried (x_pad = the padding input: 0 for features, the embedding of
// id 0 for tokens; h_carried = the state after the row's last valid step). Its state still does
// not change; no step is skipped (all-padding steps update the running statistics too).
// Init (PyTorch nn.RNN): every weight and bias U(±1/√H); the norm's γ = weight_init, β = 0.
// input_init = "linear" draws W_ih instead as nn.Linear does, U(±1/√F) with F = input_size
// (pitfall 13: with ±1/√H the adding problem is not learned); the biases keep U(±1/√H).
// Speed: W_ih x_t for all steps is one GEMM up front ((B*T,F) x (F,H)); each step then costs
// one GEMM (h_{t-1} W_hhᵀ) and three autograd nodes (pre-activation, norm, activation+mask).
#pragma once
#include <string>

#include "core/rng.h"
#include "core/tensor.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct RNNOptions {
  int64_t input_size = 0;             // F
  int64_t hidden_size = 0;            // H
  std::string nonlinearity = "tanh";  // "tanh" | "relu"
  bool bias = true;                   // b_ih and b_hh (as PyTorch; both fold into one add)
  std::string norm = "none";  // "none" | "layernorm" | "batchnorm" | "batchnorm_step" | "rmsnorm"
  double norm_eps = 1e-5;
  double norm_momentum = 0.1;     // BatchNorm only (PyTorch convention: weight of the new value)
  double norm_weight_init = 1.0;  // γ at init; Cooijmans et al. use 0.1 for recurrent BN
  int64_t norm_steps = 0;         // batchnorm_step: time steps with their own statistics
  bool norm_masked = true;        // BatchNorm only: false = padded rows enter the statistics
  std::string input_init = "rnn";  // W_ih: "rnn" U(±1/√H) (nn.RNN) | "linear" U(±1/√F) (nn.Linear)
};

struct RNNOutput {
  Tensor states;  // (B,T,H); at a padded step the state carried from the step before
  Tensor last;    // (B,H): each sequence's state after its last valid step
};

class RNN : public Module {
 public:
  // Parameters are drawn from `rng` (PyTorch nn.RNN init: every weight and bias U(±1/√H);
  // W_ih U(±1/√F) with input_init = "linear").
  RNN(const RNNOptions& options, Rng& rng);

  // x: (B,T,F); mask: (B,T) nonzero = valid step, or undefined (all valid); h0: (B,H) or
  // undefined (zeros). A step where a row is padding leaves that row's state unchanged, so
  // outputs at valid steps do not depend on the padding, wherever it sits.
  RNNOutput run(const Tensor& x, const Tensor& mask = Tensor(), const Tensor& h0 = Tensor());
  // The same with per-sequence lengths (B) (whole numbers): steps t < length are valid.
  RNNOutput run_lengths(const Tensor& x, const Tensor& lengths, const Tensor& h0 = Tensor());

  Tensor forward(const Tensor& x) override { return run(x).states; }
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override {
    return run(x, mask).states;
  }

  std::string type_name() const override { return "RNN"; }
  int64_t output_features(int64_t) const override { return options_.hidden_size; }
  std::string extra_repr() const override;
  // PyTorch's nn.RNN init for the weights and biases (W_ih per input_init); norm γ =
  // norm_weight_init, β = 0.
  void reset_parameters() override;

  const RNNOptions& options() const { return options_; }
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // (H,F), (H,H), (H), (H)

 private:
  Tensor normalize(const Tensor& a, int64_t t, const Tensor& mask_t);

  RNNOptions options_;
  Rng init_rng_;
  ModulePtr norm_;  // null for "none"
};

// A (B,T) float mask from lengths (B): mask[b,t] = t < lengths[b]. Throws ValueError on a
// negative or fractional length or one above T.
Tensor mask_from_lengths(const Tensor& lengths, int64_t T);

// ---- the two fused per-step ops (exposed for gradchecks) ------------------------------------
// a = xw[:, t, :] + h_prev · w_hhᵀ.  xw: (B,T,H), h_prev: (B,H) or undefined (zeros),
// w_hh: (H,H) -> (B,H). Backward adds d into xw's step-t slice (no copy of the whole xw).
Tensor rnn_cell_preact(const Tensor& xw, int64_t t, const Tensor& h_prev, const Tensor& w_hh);
// h = m ? f(n) : h_prev per row.  n: (B,H), h_prev: (B,H) or undefined (zeros), m: (B) or
// undefined (all valid); f = tanh or relu (relu = true).
Tensor rnn_cell_update(const Tensor& n, const Tensor& h_prev, const Tensor& m, bool relu);

// Registry factory: {"type": "rnn", "hidden_size": 128, "nonlinearity": "tanh", "bias": true,
// "input_init": "rnn", "norm": {"type": "layernorm", "eps": 1e-5, "momentum": 0.1,
// "weight_init": 1.0, "steps": 0, "masked": true}}. input_size defaults to args.features.
ModulePtr make_rnn(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
