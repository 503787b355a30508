// A character vocabulary for the character datasets: id 0 = padding, id 1 = unknown, then the
// code points seen in the training text in increasing code-point order (deterministic: it does
// not depend on the order the text was read in).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace nl {

class CharVocab {
 public:
  static constexpr int64_t kPad = 0;
  static constexpr int64_t kUnknown = 1;

  // Builds the vocabulary from every code point in `seen` (duplicates allowed).
  explicit CharVocab(std::vector<uint32_t> seen);
  int64_t size() const { return static_cast<int64_t>(chars_.size()) + 2; }
  int64_t id(uint32_t cp) const;  // kUnknown when not in the vocabulary
  // The text of every id: "<pad>", "<unk>", then the characters (for DatasetInfo::vocab).
  std::vector<std::string> strings() const;

 private:
  std::vector<uint32_t> chars_;  // sorted, unique
  std::unordered_map<uint32_t, int64_t> ids_;
};

}  // namespace nl
