// Dropout (inverted, Srivastava et al. 2014): in training zeroes each element with probability
// p and scales the rest by 1/(1-p); identity in eval. Deterministic and resumable: the layer
// keeps a fixed seed (drawn from the init Rng at construction) and a call counter in the
// buffer "calls"; call k draws its mask from Rng(mix_seed(seed, k)). Restoring the buffers
// from a checkpoint therefore resumes the exact mask sequence. In a data-parallel job rank
// r > 0 draws from Rng(mix_seed(mix_seed(seed, k), r)): every rank its own masks, rank 0 the
// single-process ones (docs/distributed.md).
#pragma once
#include <cstdint>

#include "core/config_reader.h"
#include "core/rng.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct DropoutOptions {
  float p = 0.5f;  // drop probability in [0, 1)
};

class Dropout : public Module {
 public:
  // `seed` fixes the mask stream (a factory passes args.rng->fork_seed()).
  Dropout(const DropoutOptions& options, uint64_t seed);

  // x: any shape. Training: masked and rescaled (the counter advances); eval: x itself.
  Tensor forward(const Tensor& x) override;

  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;

  const DropoutOptions& options() const { return options_; }
  uint64_t seed() const { return seed_; }
  // How many training-mode forward calls have drawn a mask (the "calls" buffer).
  int64_t calls() const;

 private:
  DropoutOptions options_;
  uint64_t seed_;
  // Float because buffers are float tensors; whole numbers are exact below 2^24 calls, and
  // forward() refuses to go past that rather than repeat masks silently.
  Tensor calls_;
};

// The seed of call `k` of a stream with seed `seed` (a splitmix64 finaliser of both, so
// neighbouring calls get unrelated streams).
uint64_t mix_seed(uint64_t seed, uint64_t k);

// Registry factory. Keys: p (0.5, drop probability in [0, 1)).
ModulePtr make_dropout(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
