// The adding problem (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015): each step
// carries 2 features, a value drawn from U(0,1) and a marker; exactly two steps are marked, one
// in the first half and one in the second half; the target is the sum of the two marked values.
// The target has mean 1 and variance 2 * 1/12, so the constant predictor 1.0 scores MSE 1/6.
// Lengths are uniform in [min_length, max_length]; the test split has its own range
// (test_min_length / test_max_length) for length extrapolation.
#include <vector>

#include "core/rng.h"
#include "data/datasets.h"

namespace nl {
namespace {

void generate(Dataset& out, int64_t n, LengthRange len, Rng& rng) {
  out = Dataset(2, false);
  out.reserve(n, n * (len.min + len.max) / 2 + n);
  std::vector<float> x(static_cast<size_t>(2 * len.max));
  for (int64_t e = 0; e < n; ++e) {
    const int64_t L = len.min + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(len.max - len.min + 1)));
    for (int64_t t = 0; t < L; ++t) {
      x[2 * t] = rng.uniform();
      x[2 * t + 1] = 0.0f;
    }
    const int64_t half = L / 2;  // L >= 2: both halves are non-empty
    const int64_t a = static_cast<int64_t>(rng.randint(static_cast<uint64_t>(half)));
    const int64_t b = half + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(L - half)));
    x[2 * a + 1] = 1.0f;
    x[2 * b + 1] = 1.0f;
    out.add(x.data(), L, x[2 * a] + x[2 * b]);
  }
}

}  // namespace

std::shared_ptr<DataSplits> make_adding_dataset(ConfigReader& cfg, const DatasetArgs& args) {
  const SplitSizes n = read_split_sizes(cfg, {10000, 1000, 1000});
  const LengthRange train_len = read_length_range(cfg, "", {20, 60}, 2, "training/validation sequence");
  LengthRange test_len;
  test_len.min = cfg.get_int("test_min_length", 0, "shortest test sequence (0 = min_length)", 0, 100000);
  test_len.max = cfg.get_int("test_max_length", 0, "longest test sequence (0 = max_length)", 0, 100000);
  if (test_len.min == 0) test_len.min = train_len.min;
  if (test_len.max == 0) test_len.max = train_len.max;
  if (test_len.min < 2) cfg.fail("test_min_length", "must be >= 2 (two markers), got " + std::to_string(test_len.min));
  if (test_len.min > test_len.max)
    cfg.fail("test_min_length", "value " + std::to_string(test_len.min) +
                                    " is larger than the test max length " + std::to_string(test_len.max));

  auto s = std::make_shared<DataSplits>();
  s->info.task = TaskKind::regression;
  s->info.feature_dim = 2;
  s->info.vocab_size = 0;
  s->info.sequential = true;
  Rng train_rng(derive_seed(args.seed, "adding/train"));
  Rng val_rng(derive_seed(args.seed, "adding/val"));
  Rng test_rng(derive_seed(args.seed, "adding/test"));
  generate(s->train, n.train, train_len, train_rng);
  generate(s->val, n.val, train_len, val_rng);
  generate(s->test, n.test, test_len, test_rng);
  return s;
}

}  // namespace nl
