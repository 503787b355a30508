// CharVocab: sorted unique code points -> ids 2.. (0 = padding, 1 = unknown).
#include "data/char_vocab.h"

#include <algorithm>

#include "data/utf8.h"

namespace nl {

CharVocab::CharVocab(std::vector<uint32_t> seen) {
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  chars_ = std::move(seen);
  for (size_t i = 0; i < chars_.size(); ++i) ids_[chars_[i]] = static_cast<int64_t>(i) + 2;
}

int64_t CharVocab::id(uint32_t cp) const {
  auto it = ids_.find(cp);
  return it == ids_.end() ? kUnknown : it->second;
}

std::vector<std::string> CharVocab::strings() const {
  std::vector<std::string> out{"<pad>", "<unk>"};
  for (uint32_t cp : chars_) out.push_back(utf8_encode(cp));
  return out;
}

}  // namespace nl
