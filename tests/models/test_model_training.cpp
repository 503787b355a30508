// A short synthetic training loop per model family: a few dozen Adam steps (written out here,
// PyTorch's formula, so the test does not depend on the optimizer module) reduce the loss.
#include <cmath>

#include "helpers.h"
#include "models/model_test_util.h"

using namespace nl;
using namespace nl::test;

namespace {

// Adam (Kingma & Ba 2015) with bias correction, as torch.optim.Adam.
struct TinyAdam {
  std::vector<Tensor> params;
  std::vector<std::vector<float>> m, v;
  float lr, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
  int step = 0;
  TinyAdam(std::vector<Tensor> p, float lr_) : params(std::move(p)), lr(lr_) {
    for (auto& t : params) m.emplace_back(t.numel(), 0.0f), v.emplace_back(t.numel(), 0.0f);
  }
  void update() {
    ++step;
    const float c1 = 1.0f - std::pow(b1, step), c2 = 1.0f - std::pow(b2, step);
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor g = params[i].grad();
      if (!g.defined()) continue;
      float* w = params[i].data();
      for (int64_t k = 0; k < params[i].numel(); ++k) {
        const float gk = g.data()[k];
        m[i][k] = b1 * m[i][k] + (1 - b1) * gk;
        v[i][k] = b2 * v[i][k] + (1 - b2) * gk * gk;
        w[k] -= lr * (m[i][k] / c1) / (std::sqrt(v[i][k] / c2) + eps);
      }
      params[i].zero_grad();
    }
  }
};

// Trains on a fixed batch for `steps` Adam steps; returns (first loss, last loss).
template <class LossFn>
std::pair<float, float> train(const std::shared_ptr<Model>& m, const Batch& b, LossFn loss_fn, int steps,
                              float lr) {
  TinyAdam opt(m->parameters(), lr);
  float first = 0, last = 0;
  for (int s = 0; s < steps; ++s) {
    Tensor loss = loss_fn(m->forward_batch(b), b);
    (s == 0 ? first : last) = loss.item();
    loss.backward();
    opt.update();
  }
  return {first, last};
}

Tensor ce(const Tensor& logits, const Batch& b) { return cross_entropy(logits, b.targets); }

// Class targets that depend on the inputs: the first token's id modulo the classes.
void label_by_first_token(Batch& b, int64_t classes) {
  const int64_t T = b.inputs.size(1);
  for (int64_t i = 0; i < b.size(); ++i)
    b.targets.data()[i] = static_cast<float>(static_cast<int64_t>(b.inputs.data()[i * T]) % classes);
}

}  // namespace

TEST_CASE("mlp: a few dozen Adam steps reduce the loss", "[models][train]") {
  auto m = build_model(json{{"type", "mlp"}, {"hidden", {16}}, {"norm", {{"type", "batchnorm"}}}},
                       flat_info(6, 3));
  Batch b;
  b.inputs = rand_tensor({16, 6}, 3, false);
  b.targets = Tensor::zeros({16});
  for (int64_t i = 0; i < 16; ++i) b.targets.data()[i] = b.inputs.data()[i * 6] > 0 ? 1.0f : 2.0f;
  auto [first, last] = train(m, b, ce, 40, 1e-2f);
  INFO(first << " -> " << last);
  CHECK(last < 0.5f * first);
}

TEST_CASE("rnn_classifier: a few dozen Adam steps reduce the loss", "[models][train]") {
  auto m = build_model(json{{"type", "rnn_classifier"}, {"hidden_size", 16}, {"embed_dim", 8},
                            {"norm", {{"type", "layernorm"}}}},
                       token_class_info(6, 3));
  Batch b = make_seq_batch({5, 3, 6, 2, 4, 6, 1, 5}, 6, 6, 0, 8);
  label_by_first_token(b, 3);
  auto [first, last] = train(m, b, ce, 40, 1e-2f);
  INFO(first << " -> " << last);
  CHECK(last < 0.5f * first);
}

TEST_CASE("rnn_regressor: a few dozen Adam steps reduce the MSE", "[models][train]") {
  auto m = build_model(json{{"type", "rnn_regressor"}, {"hidden_size", 16}}, adding_info());
  Batch b = make_seq_batch({6, 4, 5, 3, 6, 2, 5, 4}, 6, 0, 2, 9);
  for (int64_t i = 0; i < b.size(); ++i) b.targets.data()[i] = b.inputs.data()[i * 12];  // first value
  auto mse = [](const Tensor& y, const Batch& bb) { return mse_loss(y, bb.targets); };
  auto [first, last] = train(m, b, mse, 40, 1e-2f);
  INFO(first << " -> " << last);
  CHECK(last < 0.5f * first);
}

TEST_CASE("transformer_classifier: a few dozen Adam steps reduce the loss", "[models][train]") {
  auto m = build_model(json{{"type", "transformer_classifier"}, {"d_model", 16}, {"heads", 2},
                            {"layers", 1}, {"norm", {{"type", "batchnorm"}}}},
                       token_class_info(6, 3));
  Batch b = make_seq_batch({5, 3, 6, 2, 4, 6, 1, 5}, 6, 6, 0, 8);
  label_by_first_token(b, 3);
  auto [first, last] = train(m, b, ce, 40, 1e-2f);
  INFO(first << " -> " << last);
  CHECK(last < 0.5f * first);
}

TEST_CASE("transformer_lm: a few dozen Adam steps reduce the loss", "[models][train]") {
  auto m = build_model(json{{"type", "transformer_lm"}, {"d_model", 16}, {"heads", 2}, {"layers", 1}},
                       lm_info(5, 12));
  // Next token = current token + 1 (mod 5): learnable from position t alone.
  Batch b = make_seq_batch({8, 8, 8, 8}, 8, 5, 0, 2);
  b.targets = Tensor::zeros({4, 8});
  for (int64_t i = 0; i < 32; ++i)
    b.targets.data()[i] = static_cast<float>((static_cast<int64_t>(b.inputs.data()[i]) + 1) % 5);
  auto [first, last] = train(m, b, ce, 40, 1e-2f);
  INFO(first << " -> " << last);
  CHECK(last < 0.5f * first);
}
