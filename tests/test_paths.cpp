// See tests/test_paths.h. NORMLAB_TEST_SOURCE_DIR / NORMLAB_TEST_CLI_PATH come from CMake.
#include "test_paths.h"

#include <filesystem>

namespace nl::test {
std::string source_dir() { return NORMLAB_TEST_SOURCE_DIR; }
std::string cli_path() { return NORMLAB_TEST_CLI_PATH; }
std::string test_binary_path() { return std::filesystem::read_symlink("/proc/self/exe").string(); }
}  // namespace nl::test
