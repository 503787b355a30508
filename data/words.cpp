// Word -> language classification from Debian's word lists in /usr/share/dict (wamerican,
// wfrench, wngerman, witalian, wspanish, wdutch). Characters (UTF-8 code points) are the
// tokens, so sequences are naturally variable-length. Rules, all deterministic:
//  - words with an apostrophe, invalid UTF-8, or a length outside [min_length, max_length]
//    are dropped; with `lowercase` the letters are lower-cased first (German nouns would
//    otherwise give the language away), and a word listed by several languages is dropped;
//  - the split is decided by a hash of the word itself (not by any Rng order), so it does not
//    change with the seed, the language set or the caps: split "hash" sends a fraction of each
//    language to val and test; split "longer_test" tests on words longer than max_length (up
//    to test_max_length) and splits the shorter words into train and val;
//  - `per_language` caps the words kept per language (first words in a second hash order),
//    for class balance and speed;
//  - the character vocabulary is built from the training words (0 = padding, 1 = unknown).
#include <algorithm>
#include <fstream>
#include <sstream>
#include <string_view>

#include "core/error.h"
#include "data/char_vocab.h"
#include "data/datasets.h"
#include "data/utf8.h"

namespace nl {
namespace {

struct Language {
  const char* name;
  const char* file;
  const char* package;
};
constexpr Language kLanguages[] = {
    {"english", "american-english", "wamerican"}, {"french", "french", "wfrench"},
    {"german", "ngerman", "wngerman"},            {"italian", "italian", "witalian"},
    {"spanish", "spanish", "wspanish"},           {"dutch", "dutch", "wdutch"},
};

std::string read_word_list(const std::string& path, const char* package) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw DataError("word list '" + path + "' not found — apt-get install " + package);
  f.seekg(0, std::ios::end);
  std::string text(static_cast<size_t>(f.tellg()), '\0');
  f.seekg(0);
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (!f) throw DataError("word list '" + path + "' could not be read");
  return text;
}

uint64_t mix64(uint64_t z) {  // splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// One word of one list: its normalised UTF-8 text lives in an arena at [offset, offset+bytes).
struct Entry {
  uint64_t hash;  // FNV-1a of the normalised text
  uint32_t offset, bytes, chars, lang;
};

enum class Split { train, val, test };

}  // namespace

std::shared_ptr<DataSplits> make_words_dataset(ConfigReader& cfg, const DatasetArgs&) {
  const std::string dir = cfg.get_string("dir", "/usr/share/dict", "folder with the word lists");
  const std::string lang_list = cfg.get_string(
      "languages", "english,french,german,italian,spanish,dutch",
      "comma-separated languages (classes), from: english, french, german, italian, spanish, dutch");
  const int64_t min_len = cfg.get_int("min_length", 2, "shortest word kept (characters)", 1, 100);
  const int64_t max_len = cfg.get_int(
      "max_length", 12, "longest word kept (characters); in split longer_test: longest train/val word",
      1, 100);
  const std::string split_mode = cfg.get_string(
      "split", "hash",
      "hash: val/test are hashed fractions of each language; longer_test: test on words longer "
      "than max_length",
      {"hash", "longer_test"});
  const int64_t test_max_len = cfg.get_int(
      "test_max_length", 20, "split longer_test: longest test word (characters)", 1, 200);
  const double val_frac = cfg.get_number("val_fraction", 0.1, "fraction of words in val", 0.01, 0.5);
  const double test_frac = cfg.get_number(
      "test_fraction", 0.1, "fraction of words in test (split hash; longer_test: sets the test cap)",
      0.01, 0.5);
  const int64_t cap = cfg.get_int(
      "per_language", 5000,
      "at most this many words per language (longer_test: plus test_fraction of it as long test "
      "words); 0 = all",
      0, 10'000'000);
  const bool lowercase = cfg.get_bool("lowercase", true, "lower-case letters before deduplicating");
  const int64_t salt = cfg.get_int("split_salt", 0, "changes the hash split (0 = the standard one)", 0,
                                   std::numeric_limits<int32_t>::max());
  if (min_len > max_len)
    cfg.fail("min_length", "value " + std::to_string(min_len) + " is larger than max_length " +
                               std::to_string(max_len));
  const bool longer_test = split_mode == "longer_test";
  if (longer_test && test_max_len <= max_len)
    cfg.fail("test_max_length", "must be larger than max_length " + std::to_string(max_len) +
                                    " for split longer_test, got " + std::to_string(test_max_len));

  // The languages, in the order given (that order fixes the class ids).
  std::vector<const Language*> langs;
  {
    std::vector<std::string> names;
    for (const Language& l : kLanguages) names.push_back(l.name);
    std::stringstream ss(lang_list);
    std::string name;
    while (std::getline(ss, name, ',')) {
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end()) {
        cfg.fail("languages", "unknown language '" + name + "'" + did_you_mean(name, names));
      }
      const Language* l = &kLanguages[it - names.begin()];
      if (std::find(langs.begin(), langs.end(), l) != langs.end())
        cfg.fail("languages", "language '" + name + "' is listed twice");
      langs.push_back(l);
    }
    if (langs.size() < 2) cfg.fail("languages", "needs at least 2 languages, got '" + lang_list + "'");
  }

  // Every kept word of every list, normalised, in one arena; then sorted so that a word's
  // entries from different lists sit together (a sort beats a hash map of 1.4M strings here).
  const int64_t longest = longer_test ? test_max_len : max_len;
  std::string arena;
  std::vector<Entry> entries;
  std::vector<uint32_t> cps;
  for (size_t l = 0; l < langs.size(); ++l) {
    const std::string text = read_word_list(dir + "/" + langs[l]->file, langs[l]->package);
    arena.reserve(arena.size() + text.size());
    entries.reserve(entries.size() + text.size() / 8);
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string_view line(text.data() + pos, end - pos);
      pos = end + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty() || line.find('\'') != std::string_view::npos) continue;
      if (!utf8_decode(line, cps)) continue;
      const auto n = static_cast<int64_t>(cps.size());
      if (n < min_len || n > longest) continue;
      Entry e;
      e.offset = static_cast<uint32_t>(arena.size());
      for (uint32_t cp : cps) utf8_append(lowercase ? lower_latin1(cp) : cp, arena);
      e.bytes = static_cast<uint32_t>(arena.size() - e.offset);
      e.chars = static_cast<uint32_t>(n);
      e.lang = static_cast<uint32_t>(l);
      e.hash = fnv1a64(std::string_view(arena).substr(e.offset, e.bytes));
      entries.push_back(e);
    }
  }
  auto word_of = [&arena](const Entry& e) { return std::string_view(arena).substr(e.offset, e.bytes); };
  std::sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    return a.hash != b.hash ? a.hash < b.hash : word_of(a) < word_of(b);
  });

  // Per language: (cap order key, entry) of the words listed by this language only.
  const uint64_t salt_mix = mix64(static_cast<uint64_t>(salt) + 0x51ed27);
  std::vector<std::vector<std::pair<uint64_t, uint32_t>>> by_lang(langs.size());
  for (size_t i = 0; i < entries.size();) {
    size_t j = i + 1;
    uint32_t mask = 1u << entries[i].lang;
    while (j < entries.size() && entries[j].hash == entries[i].hash && word_of(entries[j]) == word_of(entries[i]))
      mask |= 1u << entries[j++].lang;
    if ((mask & (mask - 1)) == 0)  // listed by one language only (shared words are ambiguous)
      by_lang[entries[i].lang].push_back({mix64(entries[i].hash ^ salt_mix ^ 0x9e3779b97f4a7c15ull),
                                          static_cast<uint32_t>(i)});
    i = j;
  }

  struct Chosen {
    Split split;
    int lang;
    uint32_t entry;
  };
  std::vector<Chosen> chosen;
  for (size_t l = 0; l < langs.size(); ++l) {
    auto& words = by_lang[l];
    std::sort(words.begin(), words.end(), [&](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : word_of(entries[a.second]) < word_of(entries[b.second]);
    });
    const int64_t test_cap = cap == 0 ? 0 : std::max<int64_t>(1, static_cast<int64_t>(cap * test_frac + 0.5));
    int64_t kept = 0, kept_test = 0;
    for (const auto& [key, idx] : words) {
      const Entry& e = entries[idx];
      // The split comes from the word's own hash: the same word always lands in the same split.
      const double u = static_cast<double>(mix64(e.hash ^ salt_mix) >> 11) * 0x1.0p-53;
      Split s;
      if (longer_test) {
        if (static_cast<int64_t>(e.chars) > max_len) {
          if (cap > 0 && kept_test >= test_cap) continue;
          ++kept_test;
          s = Split::test;
        } else {
          if (cap > 0 && kept >= cap) continue;
          ++kept;
          s = u < val_frac ? Split::val : Split::train;
        }
      } else {
        if (cap > 0 && kept >= cap) break;
        ++kept;
        s = u < test_frac ? Split::test : u < test_frac + val_frac ? Split::val : Split::train;
      }
      chosen.push_back({s, static_cast<int>(l), idx});
    }
  }

  // The vocabulary from the training words only.
  std::vector<uint32_t> seen;
  for (const Chosen& c : chosen)
    if (c.split == Split::train) {
      utf8_decode(word_of(entries[c.entry]), cps);
      seen.insert(seen.end(), cps.begin(), cps.end());
    }
  const CharVocab vocab(std::move(seen));

  auto out = std::make_shared<DataSplits>();
  out->info.task = TaskKind::classification;
  out->info.num_classes = static_cast<int64_t>(langs.size());
  out->info.vocab_size = vocab.size();
  out->info.feature_dim = 0;
  out->info.sequential = true;
  for (const Language* l : langs) out->info.class_names.push_back(l->name);
  out->info.vocab = vocab.strings();
  out->train = Dataset(1, false);
  out->val = Dataset(1, false);
  out->test = Dataset(1, false);
  std::vector<float> ids;
  for (const Chosen& c : chosen) {
    utf8_decode(word_of(entries[c.entry]), cps);
    ids.clear();
    for (uint32_t cp : cps) ids.push_back(static_cast<float>(vocab.id(cp)));
    Dataset& d = c.split == Split::train ? out->train : c.split == Split::val ? out->val : out->test;
    d.add(ids.data(), static_cast<int64_t>(ids.size()), static_cast<float>(c.lang));
  }
  if (out->train.empty() || out->val.empty() || out->test.empty())
    throw DataError("word lists in '" + dir + "': a split is empty (train " +
                    std::to_string(out->train.size()) + ", val " + std::to_string(out->val.size()) +
                    ", test " + std::to_string(out->test.size()) +
                    ") — raise per_language, val_fraction or test_fraction");
  return out;
}

}  // namespace nl
