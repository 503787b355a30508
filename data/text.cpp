// A character-level text corpus for small language models: the licence texts every Debian
// system ships in /usr/share/common-licenses (package base-files). A fixed list of files, sorted
// by name, is concatenated; the text (in UTF-8 code points) is split into contiguous ranges,
// train first, then val, then test; each split is cut into windows of seq_len characters whose
// targets are the next characters (the window shifted by one). Training windows start every
// `stride` characters (overlapping when stride < seq_len); val/test windows do not overlap.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/char_vocab.h"
#include "data/datasets.h"
#include "data/utf8.h"

namespace nl {
namespace {

void add_windows(Dataset& out, const std::vector<float>& ids, int64_t begin, int64_t end,
                 int64_t seq_len, int64_t stride) {
  out = Dataset(1, true);
  // Window at s: inputs ids[s, s+L), targets ids[s+1, s+L+1), all inside [begin, end).
  for (int64_t s = begin; s + seq_len + 1 <= end; s += stride)
    out.add_sequence(ids.data() + s, seq_len, ids.data() + s + 1);
}

}  // namespace

std::shared_ptr<DataSplits> make_text_dataset(ConfigReader& cfg, const DatasetArgs&) {
  const std::string dir = cfg.get_string("dir", "/usr/share/common-licenses", "folder of the text files");
  const std::string file_list = cfg.get_string(
      "files", "Apache-2.0,Artistic,BSD,CC0-1.0,GFDL-1.3,GPL-2,GPL-3,LGPL-2.1,LGPL-3,MPL-2.0",
      "comma-separated file names in dir, concatenated in sorted order");
  const int64_t seq_len = cfg.get_int("seq_len", 64, "characters per window", 2, 100000);
  const int64_t stride = cfg.get_int("stride", 0, "training windows start every stride characters (0 = seq_len)",
                                     0, 100000);
  const double val_frac = cfg.get_number("val_fraction", 0.1, "fraction of the text for val", 0.01, 0.5);
  const double test_frac = cfg.get_number("test_fraction", 0.1, "fraction of the text for test", 0.01, 0.5);

  std::vector<std::string> files;
  {
    std::stringstream ss(file_list);
    std::string f;
    while (std::getline(ss, f, ','))
      if (!f.empty()) files.push_back(f);
    std::sort(files.begin(), files.end());
    files.erase(std::unique(files.begin(), files.end()), files.end());
    if (files.empty()) cfg.fail("files", "names no file");
  }
  std::vector<uint32_t> text, cps;
  for (const std::string& f : files) {
    const std::string path = dir + "/" + f;
    std::ifstream in(path, std::ios::binary);
    if (!in)
      throw DataError("text file '" + path + "' not found — it ships with Debian's base-files "
                      "package (apt-get install --reinstall base-files), or set data.dir/data.files");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (!utf8_decode(ss.str(), cps)) throw DataError("text file '" + path + "' is not valid UTF-8");
    text.insert(text.end(), cps.begin(), cps.end());
  }

  const auto n = static_cast<int64_t>(text.size());
  const auto n_val = static_cast<int64_t>(static_cast<double>(n) * val_frac);
  const auto n_test = static_cast<int64_t>(static_cast<double>(n) * test_frac);
  const int64_t n_train = n - n_val - n_test;
  const std::vector<uint32_t> train_chars(text.begin(), text.begin() + n_train);
  const CharVocab vocab(train_chars);
  std::vector<float> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<float>(vocab.id(text[i]));

  auto s = std::make_shared<DataSplits>();
  s->info.task = TaskKind::language_model;
  s->info.vocab_size = vocab.size();
  s->info.num_classes = vocab.size();
  s->info.feature_dim = 0;
  s->info.sequential = true;
  s->info.vocab = vocab.strings();
  add_windows(s->train, ids, 0, n_train, seq_len, stride > 0 ? stride : seq_len);
  add_windows(s->val, ids, n_train, n_train + n_val, seq_len, seq_len);
  add_windows(s->test, ids, n_train + n_val, n, seq_len, seq_len);
  if (s->train.empty() || s->val.empty() || s->test.empty())
    cfg.fail("seq_len", "windows of " + std::to_string(seq_len) + " characters do not fit every split of the " +
                            std::to_string(n) + "-character text (train " + std::to_string(s->train.size()) +
                            ", val " + std::to_string(s->val.size()) + ", test " +
                            std::to_string(s->test.size()) + " windows)");
  return s;
}

}  // namespace nl
