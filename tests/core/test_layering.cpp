// Folder layering: every #include "folder/..." in the library and CLI points downward in
// core < {layers, optim, data} < models < train < lab < apps (peers in the middle row do not
// include each other). Reads the source tree, so a new upward include fails here.
#include <catch2/catch.hpp>

#include "test_paths.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <string>

namespace {

const std::map<std::string, int> kRank = {{"core", 0},   {"layers", 1}, {"optim", 1},
                                          {"data", 1},   {"models", 2}, {"train", 3},
                                          {"lab", 4},    {"apps", 5}};

}  // namespace

TEST_CASE("layering: includes only point to lower folders", "[core][layering]") {
  namespace fs = std::filesystem;
  const fs::path root = NORMLAB_SOURCE_DIR;
  const std::regex include_re(R"re(^\s*#\s*include\s*"([a-z_]+)/)re");
  int files = 0;
  for (const auto& [folder, rank] : kRank) {
    REQUIRE(fs::is_directory(root / folder));
    for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp") continue;
      ++files;
      std::ifstream in(entry.path());
      std::string line;
      int n = 0;
      while (std::getline(in, line)) {
        ++n;
        std::smatch m;
        if (!std::regex_search(line, m, include_re)) continue;
        const auto target = kRank.find(m[1].str());
        if (target == kRank.end() || target->first == folder) continue;
        INFO(entry.path().string() << ":" << n << ": " << line);
        CHECK(target->second < rank);
      }
    }
  }
  CHECK(files > 50);
}
