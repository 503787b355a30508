// DataLoader: padding + mask, determinism, state save/restore, bucketing, drop_last.
#include <algorithm>
#include <map>
#include <set>

#include "data/loader.h"
#include "helpers.h"

using namespace nl;

namespace {

// Token sequences of the given lengths; token t of example e is 10*e + t + 1; target = e.
Dataset token_set(const std::vector<int64_t>& lengths, bool lm = false) {
  Dataset d(1, lm);
  for (size_t e = 0; e < lengths.size(); ++e) {
    std::vector<float> x, y;
    for (int64_t t = 0; t < lengths[e]; ++t) {
      x.push_back(static_cast<float>(10 * e + t + 1));
      y.push_back(static_cast<float>(10 * e + t + 2));
    }
    if (lm) d.add_sequence(x.data(), lengths[e], y.data());
    else d.add(x.data(), lengths[e], static_cast<float>(e));
  }
  return d;
}

DatasetInfo token_info(TaskKind task = TaskKind::classification) {
  DatasetInfo info;
  info.task = task;
  info.vocab_size = 1000;
  info.num_classes = 1000;
  return info;
}

std::vector<int64_t> some_lengths(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(1 + static_cast<int64_t>(rng.randint(20)));
  return out;
}

bool same_batch(const Batch& a, const Batch& b) {
  return a.inputs.to_vector() == b.inputs.to_vector() && a.inputs.shape() == b.inputs.shape() &&
         a.targets.to_vector() == b.targets.to_vector() && a.mask.to_vector() == b.mask.to_vector();
}

}  // namespace

TEST_CASE("loader pads token batches with a mask and lengths", "[data][loader]") {
  const Dataset d = token_set({3, 1, 4});
  LoaderOptions opt;
  opt.batch_size = 3;
  opt.shuffle = false;
  DataLoader loader(d, token_info(), opt, 1);
  const Batch b = loader.next();
  REQUIRE(b.inputs.shape() == Shape{3, 4});
  REQUIRE(b.mask.shape() == Shape{3, 4});
  REQUIRE(b.lengths.shape() == Shape{3});
  REQUIRE(b.targets.shape() == Shape{3});
  const std::vector<float> x = b.inputs.to_vector(), m = b.mask.to_vector();
  CHECK(x == std::vector<float>{1, 2, 3, 0, 11, 0, 0, 0, 21, 22, 23, 24});
  CHECK(m == std::vector<float>{1, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1});
  CHECK(b.lengths.to_vector() == std::vector<float>{3, 1, 4});
  CHECK(b.targets.to_vector() == std::vector<float>{0, 1, 2});
}

TEST_CASE("loader pads feature sequences and language-model targets", "[data][loader]") {
  // Features: (B,T,F) with zero padding; mask sums equal lengths.
  Dataset f(2, false);
  const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {7, 8};
  f.add(a, 3, 0.5f);
  f.add(b, 1, 1.5f);
  DatasetInfo info;
  info.task = TaskKind::regression;
  info.feature_dim = 2;
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.shuffle = false;
  DataLoader fl(f, info, opt, 1);
  Batch fb = fl.next();
  REQUIRE(fb.inputs.shape() == Shape{2, 3, 2});
  CHECK(fb.inputs.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0});
  CHECK(fb.targets.to_vector() == std::vector<float>{0.5f, 1.5f});
  CHECK(fb.mask.to_vector() == std::vector<float>{1, 1, 1, 1, 0, 0});

  // Language model: targets (B,T) aligned with the inputs, zero where padded.
  const Dataset lm = token_set({2, 4, 3}, true);
  DataLoader ll(lm, token_info(TaskKind::language_model), opt, 1);
  Batch lb = ll.next();
  REQUIRE(lb.targets.shape() == Shape{2, 4});
  CHECK(lb.inputs.to_vector() == std::vector<float>{1, 2, 0, 0, 11, 12, 13, 14});
  CHECK(lb.targets.to_vector() == std::vector<float>{2, 3, 0, 0, 12, 13, 14, 15});
  // The last batch is partial (1 example), padded to its own length in batch mode.
  lb = ll.next();
  CHECK(lb.inputs.shape() == Shape{1, 3});
  // Fixed mode: every batch padded to the split's longest sequence.
  LoaderOptions fixed = opt;
  fixed.length_mode = LengthMode::fixed;
  DataLoader lf(lm, token_info(TaskKind::language_model), fixed, 1);
  CHECK(lf.next().inputs.shape() == Shape{2, 4});
  CHECK(lf.next().inputs.shape() == Shape{1, 4});
}

TEST_CASE("loader mask sums equal lengths on random batches", "[data][loader]") {
  const Dataset d = token_set(some_lengths(57, 3));
  LoaderOptions opt;
  opt.batch_size = 8;
  DataLoader loader(d, token_info(), opt, 5);
  for (int s = 0; s < 20; ++s) {
    const Batch b = loader.next();
    const int64_t B = b.size(), T = b.inputs.size(1);
    for (int64_t i = 0; i < B; ++i) {
      const int64_t e = static_cast<int64_t>(b.targets.at({i}));
      REQUIRE(b.lengths.at({i}) == static_cast<float>(d.length(e)));
      float msum = 0;
      for (int64_t t = 0; t < T; ++t) {
        msum += b.mask.at({i, t});
        const float expect = t < d.length(e) ? static_cast<float>(10 * e + t + 1) : 0.0f;
        REQUIRE(b.inputs.at({i, t}) == expect);
      }
      REQUIRE(msum == b.lengths.at({i}));
    }
  }
}

TEST_CASE("loader flat data gives (B, D) inputs without a mask", "[data][loader]") {
  Dataset d(4, false);
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8};
  d.add(x, 1, 3);
  d.add(x + 4, 1, 7);
  DatasetInfo info;
  info.sequential = false;
  info.feature_dim = 4;
  info.num_classes = 10;
  LoaderOptions opt;
  opt.batch_size = 2;
  opt.shuffle = false;
  DataLoader loader(d, info, opt, 0);
  const Batch b = loader.next();
  CHECK(b.inputs.shape() == Shape{2, 4});
  CHECK_FALSE(b.mask.defined());
  CHECK(b.inputs.to_vector() == std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(b.targets.to_vector() == std::vector<float>{3, 7});
}

TEST_CASE("loader shuffles deterministically per seed and covers every example per epoch", "[data][loader]") {
  const Dataset d = token_set(some_lengths(50, 4));
  LoaderOptions opt;
  opt.batch_size = 7;
  auto epoch_orders = [&](uint64_t seed) {
    DataLoader loader(d, token_info(), opt, seed);
    std::vector<float> ids;
    for (int64_t s = 0; s < 2 * loader.batches_per_epoch(); ++s) {
      const auto t = loader.next().targets.to_vector();
      ids.insert(ids.end(), t.begin(), t.end());
    }
    return ids;
  };
  const auto a = epoch_orders(11), b = epoch_orders(11), c = epoch_orders(12);
  CHECK(a == b);
  CHECK(a != c);
  REQUIRE(a.size() == 100);
  // Each epoch is a permutation, and the two epochs differ.
  std::vector<float> e0(a.begin(), a.begin() + 50), e1(a.begin() + 50, a.end());
  CHECK(e0 != e1);
  std::sort(e0.begin(), e0.end());
  std::sort(e1.begin(), e1.end());
  for (int i = 0; i < 50; ++i) {
    REQUIRE(e0[i] == static_cast<float>(i));
    REQUIRE(e1[i] == static_cast<float>(i));
  }
}

TEST_CASE("loader state save and restore gives the same following batches", "[data][loader]") {
  const Dataset d = token_set(some_lengths(45, 6));
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.bucket_batches = 3;
  for (int skip : {0, 5, 12, 24}) {  // 12 batches per epoch: restore at, inside, across epochs
    DataLoader a(d, token_info(), opt, 77);
    for (int s = 0; s < skip; ++s) a.next();
    const LoaderState st = a.state();
    // Through the integer vector and through JSON text.
    DataLoader b(d, token_info(), opt, 1);  // a different seed: the state must override it
    b.set_state(LoaderState::from_vector(st.to_vector()));
    DataLoader c(d, token_info(), opt, 2);
    c.set_state(LoaderState::from_json(json::parse(st.to_json().dump())));
    CHECK(b.state() == st);
    for (int s = 0; s < 30; ++s) {
      const Batch x = a.next(), y = b.next(), z = c.next();
      REQUIRE(same_batch(x, y));
      REQUIRE(same_batch(x, z));
    }
    CHECK(a.state() == b.state());
  }
  DataLoader a(d, token_info(), opt, 77);
  LoaderState bad = a.state();
  bad.position = 1000;
  REQUIRE_THROWS_AS(a.set_state(bad), ValueError);
  REQUIRE_THROWS_AS(LoaderState::from_vector({1, 2, 3}), ValueError);
}

TEST_CASE("loader bucketing groups similar lengths and reduces padding", "[data][loader]") {
  const std::vector<int64_t> lengths = some_lengths(200, 8);
  const Dataset d = token_set(lengths);
  auto padding = [&](int64_t k, std::set<float>* seen) {
    LoaderOptions opt;
    opt.batch_size = 10;
    opt.bucket_batches = k;
    DataLoader loader(d, token_info(), opt, 3);
    double pad = 0;
    for (int64_t s = 0; s < loader.batches_per_epoch(); ++s) {
      const Batch b = loader.next();
      pad += static_cast<double>(b.mask.numel());
      for (float v : b.mask.to_vector()) pad -= v;
      if (seen)
        for (float t : b.targets.to_vector()) seen->insert(t);
    }
    return pad;
  };
  std::set<float> seen;
  const double bucketed = padding(5, &seen), plain = padding(0, nullptr);
  CHECK(seen.size() == 200);  // still one pass over every example
  // Sorting chunks of 50 by length leaves much less padding than random batches.
  CHECK(bucketed < 0.5 * plain);
  // Within a chunk the batches are sorted; the batch order is shuffled, so the first
  // batches are not simply the shortest ones.
  LoaderOptions opt;
  opt.batch_size = 10;
  opt.bucket_batches = 20;  // one chunk = the whole epoch
  DataLoader loader(d, token_info(), opt, 3);
  std::vector<float> max_len;
  for (int64_t s = 0; s < loader.batches_per_epoch(); ++s) max_len.push_back(loader.next().lengths.to_vector().back());
  CHECK_FALSE(std::is_sorted(max_len.begin(), max_len.end()));
}

TEST_CASE("loader drop_last and batches per epoch", "[data][loader]") {
  const Dataset d = token_set(some_lengths(23, 9));
  LoaderOptions opt;
  opt.batch_size = 5;
  CHECK(DataLoader(d, token_info(), opt, 0).batches_per_epoch() == 5);
  opt.drop_last = true;
  DataLoader loader(d, token_info(), opt, 0);
  CHECK(loader.batches_per_epoch() == 4);
  for (int s = 0; s < 12; ++s) REQUIRE(loader.next().size() == 5);
  CHECK(loader.epoch() == 2);
  opt.batch_size = 30;
  REQUIRE_THROWS_AS(DataLoader(d, token_info(), opt, 0), ValueError);
}
