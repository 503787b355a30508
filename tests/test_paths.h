// Where the test binary finds the source tree and the normlab CLI it was built with. Defined in
// tests/test_paths.cpp, the only file compiled with the build's absolute paths (so the other
// test objects are the same in every checkout and the compiler cache can share them).
#pragma once
#include <string>

namespace nl::test {
std::string source_dir();  // the repository root
std::string cli_path();    // build/bin/normlab
std::string test_binary_path();  // this test binary (to run hidden worker tests as MPI ranks)
}  // namespace nl::test

// The names the tests use.
#define NORMLAB_SOURCE_DIR (::nl::test::source_dir())
#define NORMLAB_CLI_PATH (::nl::test::cli_path())
