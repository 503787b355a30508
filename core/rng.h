// The one random number generator of normlab: xoshiro256** (Blackman & Vigna 2018) seeded
// through splitmix64. The same seed gives the same stream on every run and machine; the
// state is four integers, so checkpoints can save and restore it exactly.
#pragma once
#include <array>
#include <cstdint>

namespace nl {

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);

  uint64_t next_u64();
  // Uniform in [0, 1) with 24 random bits (exactly representable in float).
  float uniform();
  // Uniform in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Standard normal by Box-Muller (two uniforms per draw; no cached spare, so the state is
  // just the four words).
  float normal();
  float normal(float mean, float std) { return mean + std * normal(); }
  // Uniform integer in [0, n) (n > 0), without modulo bias.
  uint64_t randint(uint64_t n);
  // A child seed: use it to give a component its own independent stream.
  uint64_t fork_seed() { return next_u64(); }

  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

}  // namespace nl
