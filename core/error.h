// Typed exceptions: every error a user can cause is one of these, with a message that says
// what was wrong and where. The CLI turns them into one line on stderr and an exit code.
#pragma once
#include <stdexcept>
#include <string>

namespace nl {

// Base class for all normlab errors.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Incompatible shapes; the message names the op and both shapes.
struct ShapeError : Error {
  using Error::Error;
};
// A value outside what an op or layer accepts (e.g. BatchNorm with one value per channel).
struct ValueError : Error {
  using Error::Error;
};
// Invalid configuration (unknown key, wrong type, out of range); the message names the key.
struct ConfigError : Error {
  using Error::Error;
};
// Missing or corrupted data files; the message names the file and how to get it.
struct DataError : Error {
  using Error::Error;
};
// Autograd misuse (backward on a non-scalar without a gradient, on a tensor without grad...).
struct AutogradError : Error {
  using Error::Error;
};

}  // namespace nl
