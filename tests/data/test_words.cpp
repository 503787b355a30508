// word -> language: deterministic, disjoint hash split; duplicates, apostrophes and long words
// dropped; longer_test split; missing lists; and (when installed) the real Debian word lists.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include "data/dataset.h"
#include "helpers.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

struct FakeDict {
  fs::path path;
  FakeDict() {
    path = fs::temp_directory_path() / ("normlab_words_" + std::to_string(getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
    const char* files[] = {"american-english", "french", "ngerman", "italian", "spanish", "dutch"};
    for (int l = 0; l < 6; ++l) {
      std::ofstream f(path / files[l]);
      // 300 pseudo-random words per language, lengths 3..12, from letters a..z.
      uint64_t v = 12345 + 1000 * static_cast<uint64_t>(l);
      for (int i = 0; i < 300; ++i) {
        std::string w;
        for (int k = 0; k < 3 + i % 10; ++k) {
          v = v * 6364136223846793005ull + 1442695040888963407ull;
          w += static_cast<char>('a' + (v >> 33) % 26);
        }
        f << w << "\n";
      }
      // Shared words (dropped), apostrophes (dropped), too long (dropped at max_length 12).
      if (l == 0) f << "chat\nhund\ndon't\néclair\nabcdefghijklmnopqrstu\n";
      if (l == 1) f << "chat\nÉclair\r\n";
      if (l == 2) f << "Hund\n";
    }
  }
  ~FakeDict() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::shared_ptr<DataSplits> words(json j) {
  j["type"] = "words";
  ConfigReader cfg(j, "data");
  return make_dataset(cfg, 0);
}

// The words of a split, decoded through the vocabulary, with their class.
std::vector<std::pair<std::string, int>> decode(const DataSplits& s, const Dataset& d) {
  std::vector<std::pair<std::string, int>> out;
  for (int64_t i = 0; i < d.size(); ++i) {
    std::string w;
    for (int64_t t = 0; t < d.length(i); ++t) w += s.info.vocab.at(static_cast<size_t>(d.steps(i)[t]));
    out.push_back({w, static_cast<int>(d.target(i))});
  }
  return out;
}

std::set<std::string> word_set(const DataSplits& s, const Dataset& d) {
  std::set<std::string> out;
  for (auto& [w, c] : decode(s, d)) out.insert(w);
  return out;
}

}  // namespace

TEST_CASE("words split is deterministic, disjoint and drops shared words", "[data][words]") {
  FakeDict dict;
  const json cfg = {{"dir", dict.path.string()}, {"per_language", 0}, {"val_fraction", 0.2},
                    {"test_fraction", 0.2}};
  auto a = words(cfg), b = words(cfg);
  CHECK(a->info.num_classes == 6);
  CHECK(a->info.class_names[2] == "german");
  CHECK(a->info.vocab[0] == "<pad>");
  CHECK(a->info.vocab[1] == "<unk>");
  CHECK(a->info.vocab_size == 28);  // pad, unk, a..z
  for (const char* split : {"train", "val", "test"}) {
    CHECK(a->split(split).values() == b->split(split).values());
    CHECK(decode(*a, a->split(split)) == decode(*b, b->split(split)));
  }
  const auto tr = word_set(*a, a->train), va = word_set(*a, a->val), te = word_set(*a, a->test);
  const int64_t total = a->train.size() + a->val.size() + a->test.size();
  CHECK(static_cast<int64_t>(tr.size() + va.size() + te.size()) == total);  // no repeats
  for (const auto& w : va) CHECK(tr.count(w) == 0);
  for (const auto& w : te) CHECK((tr.count(w) == 0 && va.count(w) == 0));
  // 6 x 300 generated words, a few of the 3-letter ones generated twice (then dropped).
  CHECK(total > 1700);
  CHECK(total <= 1800);
  // Roughly 20 % / 20 % / 60 %.
  CHECK(a->val.size() > total / 8);
  CHECK(a->test.size() > total / 8);
  for (const auto* set : {&tr, &va, &te})
    for (const char* dropped : {"chat", "hund", "don't", "dont", "éclair", "abcdefghijklmnopqrstu"})
      CHECK(set->count(dropped) == 0);
  for (const auto* set : {&tr, &va, &te})
    for (const auto& w : *set) CHECK(w.size() <= 12);

  // The split depends on the word only: with fewer languages and a cap, every word still
  // lands in the same split.
  auto c = words({{"dir", dict.path.string()}, {"per_language", 100}, {"val_fraction", 0.2},
                  {"test_fraction", 0.2}, {"languages", "spanish,english"}});
  CHECK(c->info.class_names == std::vector<std::string>{"spanish", "english"});
  CHECK(c->train.size() + c->val.size() + c->test.size() == 200);
  for (auto& [w, cls] : decode(*c, c->test)) CHECK(te.count(w) == 1);
  for (auto& [w, cls] : decode(*c, c->val)) CHECK(va.count(w) == 1);
  // Without lower-casing "Hund" and "hund" are different words; "chat" is still shared.
  auto d = words({{"dir", dict.path.string()}, {"per_language", 0}, {"lowercase", false}});
  std::set<std::string> all;
  for (const char* split : {"train", "val", "test"}) {
    const auto s = word_set(*d, d->split(split));
    all.insert(s.begin(), s.end());
  }
  CHECK(all.count("chat") == 0);
  // "hund" (english) and "Hund" (german) survive, unless a character is unknown to the
  // training vocabulary (then it decodes as <unk>).
  CHECK((all.count("hund") == 1 || all.count("<unk>und") == 1));
}

TEST_CASE("words longer_test split tests only on longer words", "[data][words]") {
  FakeDict dict;
  auto s = words({{"dir", dict.path.string()}, {"per_language", 0}, {"split", "longer_test"},
                  {"max_length", 8}, {"test_max_length", 13}});
  for (int64_t i = 0; i < s->train.size(); ++i) REQUIRE(s->train.length(i) <= 8);
  for (int64_t i = 0; i < s->val.size(); ++i) REQUIRE(s->val.length(i) <= 8);
  REQUIRE(s->test.size() > 0);
  for (int64_t i = 0; i < s->test.size(); ++i) {
    REQUIRE(s->test.length(i) > 8);
    REQUIRE(s->test.length(i) <= 13);
  }
  CHECK(s->info.max_length == 12);  // the longest generated word
  REQUIRE_THROWS_MENTIONING(words({{"dir", dict.path.string()}, {"split", "longer_test"},
                                   {"max_length", 8}, {"test_max_length", 8}}),
                            "data.test_max_length");
}

TEST_CASE("words errors: missing list names file and package; bad languages", "[data][words]") {
  FakeDict dict;
  fs::remove(dict.path / "french");
  REQUIRE_THROWS_MENTIONING(words({{"dir", dict.path.string()}}), "french", "apt-get install wfrench");
  CHECK_NOTHROW(words({{"dir", dict.path.string()}, {"languages", "english,german"}}));
  REQUIRE_THROWS_MENTIONING(words({{"dir", dict.path.string()}, {"languages", "english,frensh"}}),
                            "data.languages", "did you mean 'french'");
  REQUIRE_THROWS_MENTIONING(words({{"dir", dict.path.string()}, {"languages", "english"}}),
                            "data.languages", "at least 2");
}

TEST_CASE("words from the real Debian word lists", "[data][words][real]") {
  for (const char* f : {"american-english", "french", "ngerman", "italian", "spanish", "dutch"})
    if (!fs::exists(fs::path("/usr/share/dict") / f)) {
      WARN("word list /usr/share/dict/" << f << " missing (scripts/install-deps.sh installs it): skipped");
      return;
    }
  const auto t0 = std::chrono::steady_clock::now();
  auto s = words({{"per_language", 2000}});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  INFO("words dataset built in " << secs << " s");
  CHECK(s->info.num_classes == 6);
  CHECK(s->train.size() + s->val.size() + s->test.size() == 12000);
  std::vector<int> per_class(6);
  for (int64_t i = 0; i < s->train.size(); ++i) ++per_class[static_cast<int>(s->train.target(i))];
  for (int n : per_class) CHECK(n > 1400);  // ~80 % of 2000
  CHECK(s->info.vocab_size > 30);
  CHECK(s->info.vocab_size < 120);
  CHECK(s->info.max_length <= 12);
}
