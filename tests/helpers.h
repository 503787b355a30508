// Shared test helpers: gradcheck assertions, random inputs, approximate tensor comparison.
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "core/normlab.h"

namespace nl::test {

// The rest of an open stream as text ("" when it cannot be read). A read can fail after the
// open succeeded: /proc/PID/stat of a process that exits in between gives ESRCH, which
// libstdc++ throws from the stream buffer whatever the stream's exception mask (the kill-safe
// sweep test scans /proc while it kills processes).
inline std::string read_rest(std::istream& in) {
  try {
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  } catch (const std::ios_base::failure&) {
    return "";
  }
}

// A whole file as text ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  return read_rest(in);
}

// Runs gradcheck and fails the test with the worst element when it does not pass.
inline void require_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& options = {}) {
  const GradcheckResult result = gradcheck(fn, inputs, options);
  INFO(result.message);
  REQUIRE(result.ok);
}
#define REQUIRE_GRADCHECK(...) ::nl::test::require_gradcheck(__VA_ARGS__)

// A random tensor with values in [lo, hi), optionally requiring grad.
inline Tensor rand_tensor(const Shape& shape, uint64_t seed, bool requires_grad = true,
                          float lo = -1.0f, float hi = 1.0f) {
  Rng rng(seed);
  Tensor t = Tensor::uniform(shape, lo, hi, rng);
  if (requires_grad) t.requires_grad_();
  return t;
}

// Largest |a - b| over all elements (shapes must match).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  double m = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
  return m;
}

// Elementwise |a-b| <= atol + rtol*|b|.
inline bool allclose(const Tensor& a, const Tensor& b, double atol = 1e-5, double rtol = 1e-5) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    if (!(std::abs(x - y) <= atol + rtol * std::abs(y))) return false;
  }
  return true;
}

// Checks that calling `expr` throws an nl::Error whose message contains every given piece.
#define REQUIRE_THROWS_MENTIONING(expr, ...)                                        \
  do {                                                                              \
    bool threw_ = false;                                                            \
    try {                                                                           \
      (void)(expr);                                                                 \
    } catch (const ::nl::Error& e_) {                                               \
      threw_ = true;                                                                \
      const std::string msg_ = e_.what();                                           \
      for (const char* piece_ : {__VA_ARGS__}) {                                    \
        INFO("message: " << msg_ << "\nexpected to contain: " << piece_);           \
        CHECK(msg_.find(piece_) != std::string::npos);                              \
      }                                                                             \
    }                                                                               \
    REQUIRE(threw_);                                                                \
  } while (0)

}  // namespace nl::test
