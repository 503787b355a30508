#include "train/workloads.h"

#include "core/ops.h"

namespace nl {
namespace {

DatasetInfo lm_info(int64_t T = 64) {
  DatasetInfo i;
  i.task = TaskKind::language_model;
  i.vocab_size = 64;
  i.max_length = T;
  return i;
}
DatasetInfo rnn_info() {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.num_classes = 10;
  i.feature_dim = 32;
  i.max_length = 64;
  return i;
}
DatasetInfo mlp_info() {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.num_classes = 10;
  i.feature_dim = 784;
  i.sequential = false;
  return i;
}

// Matmul FLOPs of one LM step: per token and layer 4 d² (q, k, v, o) + 2 d·ff (FF) + 2 T d
// (scores and weighted sum over the full T×T matrix), plus the d·V head; ×2 (multiply-add)
// ×3 (forward, and the two backward products).
double lm_gflop(double B, double T, double d, double ff, double L, double V) {
  return 3 * 2 * B * T * (L * (4 * d * d + 2 * d * ff + 2 * T * d) + d * V) / 1e9;
}
// The RNN and the MLP: the same ×3, except for the products that take the data itself (the
// input projection, the first Linear), whose input gradient neither framework computes: ×2.
double rnn_gflop(double B) {
  return 2 * (64 * B * (2 * 32 * 256 + 3 * 256 * 256) + 3 * B * 256 * 10) / 1e9;
}
double mlp_gflop(double B) { return 2 * B * (2 * 784 * 256 + 3 * (256 * 256 + 256 * 10)) / 1e9; }

json lm(const char* norm, int64_t d, int64_t ff) {
  return json{{"type", "transformer_lm"}, {"d_model", d}, {"heads", 4}, {"layers", 2}, {"ff", ff},
              {"placement", "pre"}, {"norm", {{"type", norm}}}};
}
json rnn(const char* norm) {
  return json{{"type", "rnn_classifier"}, {"hidden_size", 256}, {"pool", "last"},
              {"norm", {{"type", norm}}}};
}
json mlp(const char* norm) {
  return json{{"type", "mlp"}, {"hidden", {256, 256}}, {"activation", "relu"},
              {"norm", {{"type", norm}}}};
}

}  // namespace

std::vector<ReferenceWorkload> reference_workloads() {
  const double lm_gf = lm_gflop(32, 64, 128, 512, 2, 64);
  return {
      {"lm_ln", "lm_ln", lm("layernorm", 128, 512), lm_info(), 32, 64, lm_gf},
      {"lm_bn", "lm_bn", lm("batchnorm", 128, 512), lm_info(), 32, 64, lm_gf},
      {"lm_tiny", "lm_tiny", lm("layernorm", 16, 64), lm_info(), 1, 64, lm_gflop(1, 64, 16, 64, 2, 64)},
      {"rnn_ln", "rnn_ln_loop", rnn("layernorm"), rnn_info(), 32, 64, rnn_gflop(32)},
      {"rnn", "rnn_loop", rnn("none"), rnn_info(), 32, 64, rnn_gflop(32)},
      {"rnn_ln_b4", "rnn_ln_loop_b4", rnn("layernorm"), rnn_info(), 4, 64, rnn_gflop(4)},
      {"mlp", "mlp", mlp("none"), mlp_info(), 64, 0, mlp_gflop(64)},
      {"mlp_ln", "mlp_ln", mlp("layernorm"), mlp_info(), 64, 0, mlp_gflop(64)},
      {"mlp_bn", "mlp_bn", mlp("batchnorm"), mlp_info(), 64, 0, mlp_gflop(64)},
      {"mlp_ln_b4", "mlp_ln_b4", mlp("layernorm"), mlp_info(), 4, 0, mlp_gflop(4)},
      {"mlp_bn_b4", "mlp_bn_b4", mlp("batchnorm"), mlp_info(), 4, 0, mlp_gflop(4)},
      // normlab's own, not in WORKLOADS.md: lm_ln's tokens (B·T = 2048) as 8 sequences of 256,
      // where causal attention is a quarter of the FLOPs and multiplies only its triangle
      // (layers/attention_core.cpp); scripts/torch_peer.py has the same model.
      {"lm_ln_t256", "lm_ln_t256", lm("layernorm", 128, 512), lm_info(256), 8, 256,
       lm_gflop(8, 256, 128, 512, 2, 64)},
  };
}

Batch make_workload_batch(const ReferenceWorkload& w, Rng& rng) {
  Batch b;
  const DatasetInfo& i = w.info;
  if (i.task == TaskKind::language_model) {
    b.inputs = Tensor::empty({w.B, w.T});
    b.targets = Tensor::empty({w.B, w.T});
    for (int64_t k = 0; k < w.B * w.T; ++k) {
      b.inputs.data()[k] = static_cast<float>(rng.randint(i.vocab_size));
      b.targets.data()[k] = static_cast<float>(rng.randint(i.vocab_size));
    }
    return b;
  }
  b.inputs = w.T > 0 ? Tensor::normal({w.B, w.T, i.feature_dim}, 0, 1, rng)
                     : Tensor::normal({w.B, i.feature_dim}, 0, 1, rng);
  b.targets = Tensor::empty({w.B});
  for (int64_t k = 0; k < w.B; ++k)
    b.targets.data()[k] = static_cast<float>(rng.randint(i.num_classes));
  return b;
}

WorkloadRunner::WorkloadRunner(const ReferenceWorkload& w, uint64_t seed) {
  Rng rng(seed);
  json spec = w.model;
  ConfigReader reader(spec, "model");
  model_ = make_model(reader, ModelArgs{w.info, &rng});
  model_->train();
  opt_ = std::make_unique<Adam>(model_->named_parameters(), AdamOptions{});
  batch_ = make_workload_batch(w, rng);
}

void WorkloadRunner::step() {
  Tensor out = model_->forward_batch(batch_);
  Tensor loss = cross_entropy(out, batch_.targets);
  loss.backward();
  opt_->step();
  opt_->zero_grad();
}

}  // namespace nl
