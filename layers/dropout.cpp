// Dropout layer: the masking kernel and its backward are the dropout op (core/ops); this file
// turns (seed, call counter) into the op's Rng so masks are reproducible across resumes.
#include "layers/dropout.h"

#include <sstream>

#include "core/distributed.h"
#include "core/error.h"
#include "core/ops.h"

namespace nl {

uint64_t mix_seed(uint64_t seed, uint64_t k) {
  // splitmix64 (Steele et al. 2014) finaliser over seed + golden-ratio multiples of k.
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (k + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

Dropout::Dropout(const DropoutOptions& options, uint64_t seed) : options_(options), seed_(seed) {
  if (!(options.p >= 0.0f && options.p < 1.0f))
    throw ValueError("Dropout: p must be in [0, 1), got " + std::to_string(options.p));
  calls_ = register_buffer("calls", Tensor::zeros({}));
}

int64_t Dropout::calls() const { return static_cast<int64_t>(calls_.item()); }

Tensor Dropout::forward(const Tensor& x) {
  if (!is_training() || options_.p == 0.0f) return x;
  constexpr int64_t kExactLimit = int64_t{1} << 24;  // float holds whole numbers exactly below
  const int64_t k = calls();
  if (k < 0 || k >= kExactLimit)
    throw ValueError("Dropout: call counter " + std::to_string(k) +
                     " is outside [0, 2^24); masks would repeat");
  // Each rank of a data-parallel job draws its own masks (its shard holds other rows): rank
  // r > 0 mixes r into the call's seed. Rank 0 keeps the single-process stream, so a world of
  // one, and rank 0 of any world, draws exactly what it drew before ranks existed.
  uint64_t call_seed = mix_seed(seed_, static_cast<uint64_t>(k));
  if (dist::rank() > 0) call_seed = mix_seed(call_seed, static_cast<uint64_t>(dist::rank()));
  Rng rng(call_seed);
  calls_.data()[0] = static_cast<float>(k + 1);
  return dropout(x, options_.p, true, rng);
}

std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << options_.p;
  return os.str();
}

ModulePtr make_dropout(ConfigReader& cfg, const LayerArgs& args) {
  DropoutOptions o;
  o.p = static_cast<float>(cfg.get_number("p", 0.5, "probability of zeroing an element", 0.0, 0.999));
  if (!args.rng) throw ValueError("make_dropout: LayerArgs.rng is required (it seeds the masks)");
  return std::make_shared<Dropout>(o, args.rng->fork_seed());
}

}  // namespace nl
