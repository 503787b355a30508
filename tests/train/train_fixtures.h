// Fixtures for the training tests: a tiny registered model ("test_tiny": per-step ReLU
// features, masked sum over time, linear head — it can represent the adding problem's target
// exactly) with test-only switches to inject a NaN or a SIGINT, and helpers for run folders.
#pragma once
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/ops.h"
#include "helpers.h"
#include "layers/linear.h"
#include "models/model.h"
#include "train/trainer.h"

namespace nl::test {

// A minimal BatchNorm stand-in (per-feature centring over the valid positions, running mean
// with momentum 0.1) so the BN-specific parts of the trainer can be tested on their own.
class TestBatchNorm : public Module {
 public:
  explicit TestBatchNorm(int64_t H) { running_mean_ = register_buffer("running_mean", Tensor::zeros({H})); }
  std::string type_name() const override { return "TestBatchNorm"; }
  // h: (B,T,H), mask (B,T)
  Tensor forward_masked(const Tensor& h, const Tensor& mask) override {
    const int64_t B = h.size(0), T = h.size(1), H = h.size(2);
    if (!is_training()) return sub(h, running_mean_);
    const Tensor m = reshape(mask, {B, T, 1});
    double n = 0;
    for (float v : mask.to_vector()) n += v != 0.0f;
    Tensor mean = mul_scalar(sum(reshape(mul(h, m), {B * T, H}), 0), static_cast<float>(1.0 / n));  // (H)
    float* rm = running_mean_.data();
    for (int64_t c = 0; c < H; ++c) rm[c] = 0.9f * rm[c] + 0.1f * mean.data()[c];
    return sub(h, mean);
  }

 private:
  Tensor running_mean_;
};

class TinyModel : public Model {
 public:
  TinyModel(int64_t F, int64_t H, bool bn, int64_t nan_after, int64_t interrupt_at, Rng& rng)
      : nan_after_(nan_after), interrupt_at_(interrupt_at) {
    proj_ = register_module("proj", std::make_shared<Linear>(LinearOptions{F, H, true}, rng));
    if (bn) norm_ = register_module("norm", std::make_shared<TestBatchNorm>(H));
    head_ = register_module("head", std::make_shared<Linear>(LinearOptions{H, 1, true}, rng));
  }
  std::string type_name() const override { return "TinyModel"; }

  // x: (B,T,F), mask (B,T) -> (B)
  Tensor forward_batch(const Batch& b) override {
    const int64_t B = b.inputs.size(0), T = b.inputs.size(1);
    Tensor h = proj_->forward(b.inputs);               // (B,T,H)
    if (norm_) h = norm_->forward_masked(h, b.mask);
    h = relu(h);
    h = mul(h, reshape(b.mask, {B, T, 1}));            // padding contributes 0
    Tensor y = head_->forward(sum(h, 1));              // (B,1)
    if (is_training()) {
      ++calls_;
      if (interrupt_at_ > 0 && calls_ == interrupt_at_) std::raise(SIGINT);
      if (nan_after_ > 0 && calls_ > nan_after_) y = mul_scalar(y, NAN);
    }
    return reshape(y, {B});
  }

 private:
  std::shared_ptr<Linear> proj_, head_;
  std::shared_ptr<TestBatchNorm> norm_;
  int64_t nan_after_, interrupt_at_, calls_ = 0;
};

inline void register_test_models() {
  static const bool done = [] {
    model_registry().add(
        "test_tiny",
        [](ConfigReader& cfg, const ModelArgs& args) -> std::shared_ptr<Model> {
          const int64_t H = cfg.get_int("hidden", 8, "hidden units", 1, 1024);
          const bool bn = cfg.get_bool("bn", false, "test: a BatchNorm stand-in after the projection");
          const int64_t nan_after = cfg.get_int("nan_after_calls", 0, "test: NaN output after this many calls", 0);
          const int64_t intr = cfg.get_int("interrupt_at_call", 0, "test: raise SIGINT at this call", 0);
          return std::make_shared<TinyModel>(args.info.feature_dim, H, bn, nan_after, intr, *args.rng);
        },
        "test fixture");
    return true;
  }();
  (void)done;
}

// A small adding-problem run config for test_tiny (a few hundred examples, short sequences).
inline json tiny_config(int64_t steps) {
  json cfg = json::parse(R"({
    "seed": 5,
    "data": {"type": "adding", "train_size": 256, "val_size": 64, "test_size": 64,
             "min_length": 4, "max_length": 10},
    "model": {"type": "test_tiny", "hidden": 8},
    "optim": {"type": "adam", "lr": 0.02},
    "train": {"batch_size": 16, "log_interval": 5, "eval_interval": 10, "eval_batches": 2}
  })");
  cfg["train"]["steps"] = steps;
  return cfg;
}

inline std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("normlab_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  return d;
}

// Trains `config` quietly into `dir`.
inline RunResult train_config(const json& config, const std::filesystem::path& dir, int64_t stop_after = 0) {
  register_test_models();
  Experiment ex = build_experiment(config);
  RunOptions opt;
  opt.out_dir = dir.string();
  opt.quiet = true;
  opt.stop_after_step = stop_after;
  return train_experiment(ex, opt);
}

}  // namespace nl::test
