// Elman RNN with a mask and a norm inside the cell; see rnn.h for the equations.
#include "layers/rnn.h"

#include <cmath>
#include <cstring>

#include "core/autograd.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/ops.h"
#include "layers/batchnorm.h"

namespace nl {

// ---- rnn_cell_preact: a = xw[:, t, :] + h_prev · w_hhᵀ ---------------------------------------
Tensor rnn_cell_preact(const Tensor& xw, int64_t t, const Tensor& h_prev, const Tensor& w_hh) {
  if (!xw.defined() || xw.dim() != 3 || !w_hh.defined() || w_hh.dim() != 2 ||
      w_hh.size(0) != xw.size(2) || w_hh.size(1) != xw.size(2))
    throw ShapeError("rnn_cell_preact: xw " + (xw.defined() ? shape_str(xw.shape()) : "undefined") +
                     " must be (B,T,H) and w_hh " +
                     (w_hh.defined() ? shape_str(w_hh.shape()) : "undefined") + " (H,H)");
  const int64_t B = xw.size(0), T = xw.size(1), H = xw.size(2);
  if (t < 0 || t >= T)
    throw ShapeError("rnn_cell_preact: step " + std::to_string(t) + " outside xw " +
                     shape_str(xw.shape()));
  const bool has_h = h_prev.defined();
  if (has_h && h_prev.shape() != Shape{B, H})
    throw ShapeError("rnn_cell_preact: h_prev " + shape_str(h_prev.shape()) + " must be " +
                     shape_str({B, H}) + " for xw " + shape_str(xw.shape()));
  Tensor out = Tensor::empty({B, H});
  const float* px = xw.data() + t * H;
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(out.data() + b * H, px + b * T * H, sizeof(float) * H);
  if (has_h)
    sgemm(false, true, B, H, H, 1.0f, h_prev.data(), w_hh.data(), 1.0f, out.data());

  // Without h_prev (zeros) neither h_prev nor w_hh reach the output.
  if (needs_grad({&xw, has_h ? &h_prev : &xw, has_h ? &w_hh : &xw})) {
    std::vector<Tensor> inputs{xw, has_h ? h_prev : Tensor(), has_h ? w_hh : Tensor()};
    record(
        out, "rnn_cell_preact", std::move(inputs),
        [t, B, T, H, h = has_h ? h_prev.detach() : Tensor(), w = w_hh.detach()](const Tensor& d,
                                                                                GradSink& g) {
          if (g.needs(0)) {  // d into xw's step-t rows
            float* dx = g.grad(0).data() + t * H;
            for (int64_t b = 0; b < B; ++b) {
              float* row = dx + b * T * H;
              const float* src = d.data() + b * H;
              for (int64_t j = 0; j < H; ++j) row[j] += src[j];
            }
          }
          bool fresh = false;
          GemmCall dh_call, dw_call;
          if (g.needs(1)) {  // dh_prev = d · w_hh
            Tensor& dh = g.target(1, &fresh);
            dh_call = {false, false, B, H, H, 1.0f, d.data(), w.data(), fresh ? 0.0f : 1.0f,
                       dh.data()};
          }
          if (g.needs(2)) {  // dw_hh = dᵀ · h_prev
            Tensor& dw = g.target(2, &fresh);
            dw_call = {true, false, H, H, B, 1.0f, d.data(), h.data(), fresh ? 0.0f : 1.0f,
                       dw.data()};
          }
          // At once on two threads where that pays (one core keeps w_hh in its cache from step
          // to step, the other dw_hh); either may be absent (not needed).
          sgemm_pair(dh_call, dw_call);
        });
  }
  return out;
}

// ---- rnn_cell_update: h = m ? f(n) : h_prev ------------------------------------------------
Tensor rnn_cell_update(const Tensor& n, const Tensor& h_prev, const Tensor& m, bool relu) {
  if (!n.defined() || n.dim() != 2)
    throw ShapeError("rnn_cell_update: n " + (n.defined() ? shape_str(n.shape()) : "undefined") +
                     " must be (B,H)");
  const int64_t B = n.size(0), H = n.size(1);
  const bool has_h = h_prev.defined(), has_m = m.defined();
  if (has_h && h_prev.shape() != n.shape())
    throw ShapeError("rnn_cell_update: h_prev " + shape_str(h_prev.shape()) + " differs from n " +
                     shape_str(n.shape()));
  if (has_m && m.shape() != Shape{B})
    throw ShapeError("rnn_cell_update: mask " + shape_str(m.shape()) + " must be " +
                     shape_str({B}) + " for n " + shape_str(n.shape()));
  Tensor out = Tensor::empty({B, H});
  const float* pn = n.data();
  float* po = out.data();
  for (int64_t b = 0; b < B; ++b) {
    float* o = po + b * H;
    if (has_m && m.data()[b] == 0.0f) {  // padding: carry the state
      if (has_h)
        std::memcpy(o, h_prev.data() + b * H, sizeof(float) * H);
      else
        std::memset(o, 0, sizeof(float) * H);
      continue;
    }
    const float* x = pn + b * H;
    if (relu)
      for (int64_t j = 0; j < H; ++j) o[j] = x[j] > 0.0f ? x[j] : 0.0f;
    else
      fast_tanh(x, o, H);
  }

  const bool carry = has_m && has_h;  // h_prev only matters where some row is padding
  if (needs_grad({&n, carry ? &h_prev : &n})) {
    record(out, "rnn_cell_update", {n, carry ? h_prev : Tensor()},
           [B, H, relu, y = out.detach(), m = has_m ? m.detach() : Tensor()](const Tensor& d,
                                                                             GradSink& g) {
             const bool has_m = m.defined();
             bool fresh = false;
             if (g.needs(0)) {  // dn = m · d · f'(n), with f' from the output
               Tensor& dn = g.target(0, &fresh);
               for (int64_t b = 0; b < B; ++b) {
                 float* o = dn.data() + b * H;
                 const float* dy = d.data() + b * H;
                 const float* yy = y.data() + b * H;
                 if (has_m && m.data()[b] == 0.0f) {
                   if (fresh) std::memset(o, 0, sizeof(float) * H);
                   continue;
                 }
                 if (relu) {
                   // dy loaded on every lane, then selected: the loop vectorises
                   if (fresh)
                     for (int64_t j = 0; j < H; ++j) {
                       const float dv = dy[j];
                       o[j] = yy[j] > 0.0f ? dv : 0.0f;
                     }
                   else
                     for (int64_t j = 0; j < H; ++j) {
                       const float dv = dy[j];
                       o[j] += yy[j] > 0.0f ? dv : 0.0f;
                     }
                 } else {
                   if (fresh)
                     for (int64_t j = 0; j < H; ++j) o[j] = dy[j] * (1.0f - yy[j] * yy[j]);
                   else
                     for (int64_t j = 0; j < H; ++j) o[j] += dy[j] * (1.0f - yy[j] * yy[j]);
                 }
               }
             }
             if (g.needs(1)) {  // dh_prev = (1 - m) · d
               Tensor& dh = g.target(1, &fresh);
               for (int64_t b = 0; b < B; ++b) {
                 float* o = dh.data() + b * H;
                 const float* dy = d.data() + b * H;
                 const bool pass = m.data()[b] == 0.0f;
                 if (fresh) {
                   if (pass)
                     std::memcpy(o, dy, sizeof(float) * H);
                   else
                     std::memset(o, 0, sizeof(float) * H);
                 } else if (pass) {
                   for (int64_t j = 0; j < H; ++j) o[j] += dy[j];
                 }
               }
             }
           });
  }
  return out;
}

// ---- masks -----------------------------------------------------------------------------------
Tensor mask_from_lengths(const Tensor& lengths, int64_t T) {
  if (!lengths.defined() || lengths.dim() != 1)
    throw ShapeError("mask_from_lengths: lengths must be (B), got " +
                     (lengths.defined() ? shape_str(lengths.shape()) : "undefined"));
  const int64_t B = lengths.size(0);
  Tensor mask = Tensor::zeros({B, T});
  for (int64_t b = 0; b < B; ++b) {
    const float len = lengths.data()[b];
    if (!(len >= 0.0f) || len > static_cast<float>(T) || len != std::floor(len))
      throw ValueError("mask_from_lengths: length " + std::to_string(len) + " of sequence " +
                       std::to_string(b) + " is not a whole number in [0, " + std::to_string(T) +
                       "]");
    for (int64_t t = 0; t < static_cast<int64_t>(len); ++t) mask.data()[b * T + t] = 1.0f;
  }
  return mask;
}

// ---- the layer -------------------------------------------------------------------------------
RNN::RNN(const RNNOptions& o, Rng& rng) : options_(o), init_rng_(rng.fork_seed()) {
  if (o.input_size <= 0 || o.hidden_size <= 0)
    throw ValueError("RNN: input_size and hidden_size must be positive, got " +
                     std::to_string(o.input_size) + " and " + std::to_string(o.hidden_size));
  if (o.nonlinearity != "tanh" && o.nonlinearity != "relu")
    throw ValueError("RNN: nonlinearity must be tanh or relu, got '" + o.nonlinearity + "'");
  if (o.input_init != "rnn" && o.input_init != "linear")
    throw ValueError("RNN: input_init must be rnn or linear, got '" + o.input_init + "'");
  const int64_t F = o.input_size, H = o.hidden_size;
  weight_ih = register_parameter("weight_ih", Tensor::zeros({H, F}));
  weight_hh = register_parameter("weight_hh", Tensor::zeros({H, H}));
  if (o.bias) {
    bias_ih = register_parameter("bias_ih", Tensor::zeros({H}));
    bias_hh = register_parameter("bias_hh", Tensor::zeros({H}));
  }
  if (!o.norm_masked && o.norm != "batchnorm" && o.norm != "batchnorm_step")
    throw ValueError("RNN: norm masked = false applies to batchnorm and batchnorm_step only, got '" +
                     o.norm + "'");
  json spec;
  if (o.norm == "layernorm" || o.norm == "rmsnorm") {
    spec = {{"type", o.norm}, {"eps", o.norm_eps}};
  } else if (o.norm == "batchnorm" || o.norm == "batchnorm_step") {
    const bool per_step = o.norm == "batchnorm_step";
    if (per_step && o.norm_steps < 1)
      throw ValueError("RNN: batchnorm_step needs norm steps >= 1 (the longest training length)");
    spec = {{"type", "batchnorm"},
            {"eps", o.norm_eps},
            {"momentum", o.norm_momentum},
            {"steps", per_step ? o.norm_steps : 0},
            {"masked", o.norm_masked}};
  } else if (o.norm != "none") {
    throw ValueError(
        "RNN: norm must be none, layernorm, batchnorm, batchnorm_step or rmsnorm, "
        "got '" +
        o.norm + "'");
  }
  if (!spec.is_null()) {
    Rng norm_rng(init_rng_.fork_seed());
    norm_ = register_module("norm", make_layer(spec, LayerArgs{H, &norm_rng}, "rnn.norm"));
  }
  reset_parameters();
}

void RNN::reset_parameters() {
  // PyTorch nn.RNN: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)); input_init "linear":
  // W_ih ~ U(-1/sqrt(F), 1/sqrt(F)) as nn.Linear (same draws in the same order, so the other
  // parameters do not change with it).
  const float k = 1.0f / std::sqrt(static_cast<float>(options_.hidden_size));
  const float k_in = options_.input_init == "linear"
                         ? 1.0f / std::sqrt(static_cast<float>(options_.input_size))
                         : k;
  for (Tensor* p : {&weight_ih, &weight_hh, &bias_ih, &bias_hh}) {
    if (!p->defined()) continue;
    const float r = p == &weight_ih ? k_in : k;
    float* d = p->data();
    for (int64_t i = 0; i < p->numel(); ++i) d[i] = init_rng_.uniform(-r, r);
  }
  if (norm_) {
    norm_->reset_parameters();
    for (auto& [name, t] : norm_->named_parameters())
      if (name == "weight") t.fill_(static_cast<float>(options_.norm_weight_init));
  }
}

std::string RNN::extra_repr() const {
  return "input=" + std::to_string(options_.input_size) +
         ", hidden=" + std::to_string(options_.hidden_size) + ", " + options_.nonlinearity +
         ", norm=" + options_.norm + (options_.norm_masked ? "" : " (unmasked)") +
         (options_.bias ? "" : ", bias=false") +
         (options_.input_init == "rnn" ? "" : ", input_init=" + options_.input_init);
}

// The cell norm of one step. a: (B,H); mask_t: (B) or undefined (all rows valid).
Tensor RNN::normalize(const Tensor& a, int64_t t, const Tensor& mask_t) {
  if (!norm_) return a;
  // BatchNorm normalises step t over its valid rows; a step with fewer than 2 valid rows (the
  // tail of a variable-length batch, pitfall 11) uses the running statistics instead. Unmasked
  // BatchNorm ignores mask_t: every row enters the statistics.
  if (auto* bn = dynamic_cast<BatchNorm*>(norm_.get())) return bn->forward_step(a, t, mask_t);
  return norm_->forward(a);  // per-row norms: padded rows are computed and then discarded
}

RNNOutput RNN::run(const Tensor& x, const Tensor& mask, const Tensor& h0) {
  const int64_t F = options_.input_size, H = options_.hidden_size;
  if (!x.defined() || x.dim() != 3 || x.size(2) != F)
    throw ShapeError("RNN: input " + (x.defined() ? shape_str(x.shape()) : "undefined") +
                     " must be (B,T," + std::to_string(F) + ")");
  const int64_t B = x.size(0), T = x.size(1);
  if (T == 0) throw ShapeError("RNN: input " + shape_str(x.shape()) + " has no time steps");
  if (mask.defined() && mask.shape() != Shape{B, T})
    throw ShapeError("RNN: mask " + shape_str(mask.shape()) + " must be (B,T) = " +
                     shape_str({B, T}) + " for input " + shape_str(x.shape()));
  if (h0.defined() && h0.shape() != Shape{B, H})
    throw ShapeError("RNN: h0 " + shape_str(h0.shape()) + " must be " + shape_str({B, H}));

  // Time-major copy of the mask, so each step's column is a free (B) view; valid rows per step.
  Tensor mask_tb;
  std::vector<int64_t> valid(T, B);
  if (mask.defined()) {
    mask_tb = Tensor::empty({T, B});
    for (int64_t t = 0; t < T; ++t) {
      valid[t] = 0;
      for (int64_t b = 0; b < B; ++b) {
        const float v = mask.data()[b * T + t] != 0.0f ? 1.0f : 0.0f;
        mask_tb.data()[t * B + b] = v;
        valid[t] += v != 0.0f;
      }
    }
  }

  // W_ih x_t + b for every step in one GEMM: (B*T,F) x (F,H) -> (B,T,H).
  Tensor xw = matmul(x, weight_ih, false, true);
  if (options_.bias) xw = add(xw, add(bias_ih, bias_hh));

  const bool relu = options_.nonlinearity == "relu";
  std::vector<Tensor> states;
  states.reserve(T);
  Tensor h = h0;  // undefined = zeros
  // Unmasked BatchNorm sees every step, all-padding ones too (as over the padded tensor).
  const bool skip_empty = options_.norm_masked;
  for (int64_t t = 0; t < T; ++t) {
    if (valid[t] == 0 && skip_empty) {  // every row is padding: nothing changes
      if (!h.defined()) h = Tensor::zeros({B, H});
      states.push_back(h);
      continue;
    }
    Tensor m_t;
    if (valid[t] < B) m_t = mask_tb.slice(0, t, t + 1).reshape({B});
    Tensor a = rnn_cell_preact(xw, t, h, weight_hh);
    Tensor n = normalize(a, t, m_t);
    h = rnn_cell_update(n, h, m_t, relu);
    states.push_back(h);
  }
  return RNNOutput{stack(states, 1), h};
}

RNNOutput RNN::run_lengths(const Tensor& x, const Tensor& lengths, const Tensor& h0) {
  if (!x.defined() || x.dim() != 3)
    throw ShapeError("RNN: input " + (x.defined() ? shape_str(x.shape()) : "undefined") +
                     " must be (B,T,F)");
  return run(x, mask_from_lengths(lengths, x.size(1)), h0);
}

// ---- registry factory ------------------------------------------------------------------------
ModulePtr make_rnn(ConfigReader& cfg, const LayerArgs& args) {
  RNNOptions o;
  o.input_size = cfg.get_int("input_size", args.features,
                             "input features F (default: the width of the layer below)", 1);
  o.hidden_size = cfg.get_int("hidden_size", 128, "hidden state size H", 1, 1 << 16);
  o.nonlinearity = cfg.get_string("nonlinearity", "tanh", "cell activation", {"tanh", "relu"});
  o.bias = cfg.get_bool("bias", true, "learn the biases b_ih and b_hh");
  o.input_init = cfg.get_string(
      "input_init", "rnn",
      "init of the input weights W_ih: rnn = U(±1/√hidden_size) (PyTorch nn.RNN), linear = "
      "U(±1/√input features) (nn.Linear); biases and W_hh keep nn.RNN's",
      {"rnn", "linear"});
  ConfigReader n = cfg.sub("norm", "the norm inside the cell, applied to W x_t + U h_{t-1} + b");
  o.norm = n.get_string("type", "none", "cell norm",
                        {"none", "layernorm", "batchnorm", "batchnorm_step", "rmsnorm"});
  o.norm_eps = n.get_number("eps", 1e-5, "added to the variance inside the square root", 0.0, 1.0);
  o.norm_momentum = n.get_number(
      "momentum", 0.1, "BatchNorm running-statistics momentum (weight of the new value)", 0.0, 1.0);
  o.norm_weight_init = n.get_number("weight_init", 1.0,
                                    "initial γ (Cooijmans et al. use 0.1 for recurrent BatchNorm)");
  o.norm_steps = n.get_int("steps", 0,
                           "batchnorm_step: time steps with their own statistics (the longest "
                           "training length); later steps reuse the last step's",
                           0, 1 << 20);
  o.norm_masked = n.get_bool(
      "masked", true,
      "batchnorm types: true = each step's statistics over its valid rows only; false = padded "
      "rows enter them too (PyTorch's BatchNorm1d, issue #70529)");
  n.finish();
  if (!o.norm_masked && o.norm != "batchnorm" && o.norm != "batchnorm_step")
    n.fail("masked", "only the batchnorm types take statistics across rows (got type '" + o.norm + "')");
  if (o.norm == "batchnorm_step" && o.norm_steps < 1)
    n.fail("steps", "batchnorm_step needs steps >= 1 (the longest training sequence length)");
  if (o.norm != "batchnorm_step" && o.norm_steps != 0)
    n.fail("steps", "only batchnorm_step keeps statistics per step (got type '" + o.norm + "')");
  if (o.input_size < 1) cfg.fail("input_size", "unknown input width: set input_size");
  if (!args.rng) throw ValueError("rnn: the layer needs an Rng to initialise its weights");
  return std::make_shared<RNN>(o, *args.rng);
}

}  // namespace nl
