// Character-level text corpus: sorted concatenation, contiguous splits, windows whose targets
// are the inputs shifted by one; missing files; the real licence texts.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "data/loader.h"
#include "helpers.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<DataSplits> text(json j) {
  j["type"] = "text";
  ConfigReader cfg(j, "data");
  return make_dataset(cfg, 0);
}

std::string decode(const DataSplits& s, const float* ids, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += s.info.vocab.at(static_cast<size_t>(ids[i]));
  return out;
}

}  // namespace

TEST_CASE("text corpus windows and next-character targets", "[data][text]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_text_" + std::to_string(getpid()));
  fs::create_directories(dir);
  // 100 characters in all: "a" file first (sorted), then "b".
  std::string a_text, b_text;
  for (int i = 0; i < 60; ++i) a_text += static_cast<char>('a' + i % 26);
  for (int i = 0; i < 40; ++i) b_text += static_cast<char>('A' + i % 26);
  std::ofstream(dir / "b.txt") << b_text;
  std::ofstream(dir / "a.txt") << a_text;
  const std::string all = a_text + b_text;
  auto s = text({{"dir", dir.string()}, {"files", "b.txt,a.txt"}, {"seq_len", 4}, {"stride", 2},
                 {"val_fraction", 0.1}, {"test_fraction", 0.2}});
  fs::remove_all(dir);

  CHECK(s->info.task == TaskKind::language_model);
  // Train = characters [0, 70): windows start at 0, 2, ..., 64 (the last needs 5 characters).
  REQUIRE(s->train.size() == 33);
  for (int64_t w = 0; w < s->train.size(); ++w) {
    REQUIRE(s->train.length(w) == 4);
    REQUIRE(decode(*s, s->train.steps(w), 4) == all.substr(2 * w, 4));
    REQUIRE(decode(*s, s->train.step_targets(w), 4) == all.substr(2 * w + 1, 4));
  }
  // Val = [70, 80): non-overlapping windows at 70 and 74; test = [80, 100): 80, 84, 88, 92.
  REQUIRE(s->val.size() == 2);
  REQUIRE(s->test.size() == 4);
  // Test window at 92: targets are characters 93..96 = "HIJK"; "K" is not in the training
  // range, so it is the unknown id.
  CHECK(decode(*s, s->test.step_targets(3), 4) == "HIJ<unk>");
  // Characters absent from the training range are unknown (id 1): val/test hold upper case
  // letters from "K" on, train only up to "J" (index 69 - 60 = 9).
  CHECK(decode(*s, s->val.steps(0), 4) == "<unk><unk><unk><unk>");
  CHECK(s->info.vocab_size == 2 + 26 + 10);
  // Through the loader: fixed-length batches, targets aligned with the inputs.
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.shuffle = false;
  DataLoader loader(s->train, s->info, opt, 0);
  const Batch b = loader.next();
  REQUIRE(b.inputs.shape() == Shape{5, 4});
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t t = 0; t + 1 < 4; ++t) REQUIRE(b.targets.at({i, t}) == b.inputs.at({i, t + 1}));
}

TEST_CASE("text corpus errors and the real licence texts", "[data][text][real]") {
  REQUIRE_THROWS_MENTIONING(text({{"dir", "/nonexistent"}, {"files", "GPL-3"}}), "/nonexistent/GPL-3",
                            "base-files");
  if (!fs::exists("/usr/share/common-licenses/GPL-3")) {
    WARN("/usr/share/common-licenses missing: real corpus part skipped");
    return;
  }
  auto s = text({{"seq_len", 64}});
  CHECK(s->info.vocab_size > 60);
  CHECK(s->info.vocab_size < 200);
  CHECK(s->train.size() > 1500);  // ~190k characters, 80 % in 64-character windows
  CHECK(s->val.size() > 200);
  REQUIRE_THROWS_MENTIONING(text({{"seq_len", 50000}}), "data.seq_len");
}
