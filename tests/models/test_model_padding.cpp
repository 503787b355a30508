// Padding never changes a model's outputs: the same sequences padded further (and with other
// garbage at padded positions) give the same pooled outputs, with LayerNorm and with masked
// BatchNorm, in training and eval mode. And the causal LM does not look ahead.
#include "helpers.h"
#include "models/model_test_util.h"

using namespace nl;
using namespace nl::test;

namespace {

// Runs the same sequences at padding T and T+4 through two identical models (same seed, so
// BatchNorm's running statistics evolve identically) and compares the outputs.
void check_padding_invariance(const json& spec, const DatasetInfo& info, bool eval_mode) {
  auto a = build_model(spec, info, 5), b = build_model(spec, info, 5);
  if (eval_mode) a->eval(), b->eval();
  const int64_t vocab = info.vocab_size, F = info.feature_dim;
  Batch short_batch = make_seq_batch({5, 2, 7, 1}, 7, vocab, F, 11);
  Batch long_batch = repad(short_batch, 11, vocab);
  for (int rep = 0; rep < 2; ++rep) {  // the second pass sees updated running statistics
    Tensor ya = a->forward_batch(short_batch), yb = b->forward_batch(long_batch);
    INFO(spec.dump() << (eval_mode ? " eval" : " train") << " pass " << rep);
    // Float sums over different T reorder nothing at valid positions, but BLAS blocking may
    // differ with the row count: allow float32 rounding.
    CHECK(max_abs_diff(ya, yb) < 2e-5);
  }
}

}  // namespace

TEST_CASE("rnn_classifier padding invariance with LN and masked BN", "[models][padding]") {
  for (const char* norm : {"none", "layernorm", "batchnorm"})
    for (const char* pool : {"last", "mean"})
      for (bool eval_mode : {false, true}) {
        const json spec = {{"type", "rnn_classifier"}, {"hidden_size", 12}, {"embed_dim", 6},
                           {"pool", pool}, {"norm", {{"type", norm}}}};
        check_padding_invariance(spec, token_class_info(9, 3), eval_mode);
      }
  // batchnorm_step keeps statistics per step; real-valued inputs.
  const json step = {{"type", "rnn_classifier"}, {"hidden_size", 12},
                     {"norm", {{"type", "batchnorm_step"}, {"steps", 7}}}};
  check_padding_invariance(step, feature_class_info(3, 4), false);
  check_padding_invariance(step, feature_class_info(3, 4), true);
}

TEST_CASE("rnn_regressor padding invariance", "[models][padding]") {
  const json spec = {{"type", "rnn_regressor"}, {"hidden_size", 10}, {"norm", {{"type", "layernorm"}}}};
  check_padding_invariance(spec, adding_info(), false);
}

TEST_CASE("transformer_classifier padding invariance with LN and masked BN", "[models][padding]") {
  for (const char* norm : {"layernorm", "batchnorm", "rmsnorm"})
    for (const char* placement : {"pre", "post"})
      for (bool eval_mode : {false, true}) {
        const json spec = {{"type", "transformer_classifier"}, {"d_model", 8}, {"heads", 2},
                           {"layers", 2}, {"ff", 16}, {"placement", placement},
                           {"norm", {{"type", norm}}}};
        check_padding_invariance(spec, token_class_info(9, 3, 16), eval_mode);
      }
  const json feat = {{"type", "transformer_classifier"}, {"d_model", 8}, {"heads", 2}, {"layers", 1},
                     {"norm", {{"type", "batchnorm"}}}};
  check_padding_invariance(feat, feature_class_info(3, 2, 16), false);
}

TEST_CASE("padding invariance test can fail: unmasked BatchNorm in an MLP sees the padding", "[models][padding]") {
  // The mlp flattens (B,T,F) without a mask, so garbage at padded positions changes its
  // output: this is the failure the masked models above avoid.
  DatasetInfo info = feature_class_info(3, 2, 7);
  auto m = build_model(json{{"type", "mlp"}, {"hidden", {8}}}, info);
  Batch a = make_seq_batch({5, 2}, 7, 0, 3, 1, 3.0f), b = make_seq_batch({5, 2}, 7, 0, 3, 1, -3.0f);
  CHECK(max_abs_diff(m->forward_batch(a), m->forward_batch(b)) > 1e-3);
}

TEST_CASE("transformer_lm is causal: logits at t ignore tokens after t", "[models]") {
  for (const char* placement : {"pre", "post"}) {
    const json spec = {{"type", "transformer_lm"}, {"d_model", 16}, {"heads", 4}, {"layers", 2},
                       {"placement", placement}, {"norm", {{"type", "layernorm"}}}};
    auto m = build_model(spec, lm_info(11, 16));
    Batch a = make_seq_batch({10, 10}, 10, 11, 0, 3);
    Batch b = make_seq_batch({10, 10}, 10, 11, 0, 3);
    const int64_t cut = 6;  // change every token after position cut
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t t = cut + 1; t < 10; ++t)
        b.inputs.data()[i * 10 + t] = static_cast<float>((static_cast<int64_t>(a.inputs.data()[i * 10 + t]) + 3) % 11);
    Tensor la = m->forward_batch(a), lb = m->forward_batch(b);
    const int64_t V = 11;
    double before = 0, after = 0;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t t = 0; t < 10; ++t)
        for (int64_t v = 0; v < V; ++v) {
          const double d = std::abs(la.at({i, t, v}) - lb.at({i, t, v}));
          (t <= cut ? before : after) = std::max(t <= cut ? before : after, d);
        }
    INFO(placement);
    CHECK(before == 0.0);  // exactly: future tokens never enter the computation at t <= cut
    CHECK(after > 1e-4);   // the test can see a change where one is allowed
  }
}

TEST_CASE("transformer_lm with BatchNorm: causal in eval mode, batch statistics leak in training",
          "[models]") {
  // BatchNorm in training mode normalises with statistics over all (B*T) positions, so future
  // tokens shift the logits at earlier positions (a property of BN, documented for the lab);
  // in eval mode it uses running statistics and the model is strictly causal again.
  const json spec = {{"type", "transformer_lm"}, {"d_model", 8}, {"heads", 2}, {"layers", 1},
                     {"norm", {{"type", "batchnorm"}}}};
  auto m = build_model(spec, lm_info(11, 16));
  Batch a = make_seq_batch({8, 8}, 8, 11, 0, 4), b = a;
  b.inputs = a.inputs.clone();
  b.inputs.data()[7] = static_cast<float>((static_cast<int64_t>(a.inputs.data()[7]) + 1) % 11);
  auto first_step_diff = [&] {
    Tensor la = m->forward_batch(a), lb = m->forward_batch(b);
    double d = 0;
    for (int64_t v = 0; v < 11; ++v) d = std::max(d, double(std::abs(la.at({0, 0, v}) - lb.at({0, 0, v}))));
    return d;
  };
  CHECK(first_step_diff() > 0.0);
  m->eval();
  CHECK(first_step_diff() == 0.0);
}
