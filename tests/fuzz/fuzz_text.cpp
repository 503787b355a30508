// Fuzz target: the word-list and text loaders on arbitrary bytes (invalid UTF-8 included),
// through their dataset factories as a config would reach them. The input is split at the
// first 0xFF byte into an "english" and a "french" word list; the whole input is also one
// text file for the character language-model dataset. Only normlab errors may come out.
#include <algorithm>
#include <cstdint>

#include "core/error.h"
#include "data/dataset.h"
#include "fuzz_util.h"

namespace {

void build(const nl::json& cfg) {
  try {
    nl::ConfigReader reader(cfg, "data");
    auto splits = nl::make_dataset(reader, 1);
    (void)splits->train.size();
  } catch (const nl::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* split = std::find(data, data + size, 0xFF);
  nl::fuzz::write_file("american-english", data, static_cast<size_t>(split - data));
  const uint8_t* second = split == data + size ? split : split + 1;
  nl::fuzz::write_file("french", second, static_cast<size_t>(data + size - second));
  const std::string dir = nl::fuzz::scratch_dir().string();
  build({{"type", "words"}, {"dir", dir}, {"languages", "english,french"}, {"per_language", 200}});
  build({{"type", "words"}, {"dir", dir}, {"languages", "english,french"}, {"split", "longer_test"},
         {"max_length", 4}, {"test_max_length", 8}});
  nl::fuzz::write_file("input.txt", data, size);
  build({{"type", "text"}, {"dir", dir}, {"files", "input.txt"}, {"seq_len", 8}});
  return 0;
}
