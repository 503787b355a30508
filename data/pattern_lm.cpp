// A synthetic language-modelling task: each sequence repeats a random pattern (period p uniform
// in [min_period, max_period], symbols uniform in 1..num_symbols; 0 = padding) for L tokens,
// L uniform in [min_length, max_length]. Targets are the next tokens. After the first period
// every token is predictable by copying from p steps back (an induction/copy task), so a model
// that learns it drives the loss far below the unigram entropy log(num_symbols).
#include <vector>

#include "core/rng.h"
#include "data/datasets.h"

namespace nl {
namespace {

void generate(Dataset& out, int64_t n, LengthRange len, LengthRange period, int64_t S, Rng& rng) {
  out = Dataset(1, true);
  out.reserve(n, n * (len.min + len.max) / 2 + n);
  std::vector<float> seq(static_cast<size_t>(len.max + 1));
  std::vector<float> pattern(static_cast<size_t>(period.max));
  for (int64_t e = 0; e < n; ++e) {
    const int64_t L = len.min + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(len.max - len.min + 1)));
    const int64_t p = period.min + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(period.max - period.min + 1)));
    for (int64_t i = 0; i < p; ++i)
      pattern[i] = static_cast<float>(1 + rng.randint(static_cast<uint64_t>(S)));
    for (int64_t t = 0; t <= L; ++t) seq[t] = pattern[t % p];
    out.add_sequence(seq.data(), L, seq.data() + 1);  // inputs seq[0..L), targets seq[1..L]
  }
}

}  // namespace

std::shared_ptr<DataSplits> make_pattern_lm_dataset(ConfigReader& cfg, const DatasetArgs& args) {
  const SplitSizes n = read_split_sizes(cfg, {4000, 500, 500});
  const int64_t S = cfg.get_int("num_symbols", 8, "alphabet size (token ids 1..num_symbols)", 2, 1000);
  const LengthRange len = read_length_range(cfg, "", {16, 48}, 2, "sequence");
  LengthRange period;
  period.min = cfg.get_int("min_period", 2, "shortest repeated pattern", 1, 1000);
  period.max = cfg.get_int("max_period", 6, "longest repeated pattern", 1, 1000);
  if (period.min > period.max)
    cfg.fail("min_period", "value " + std::to_string(period.min) + " is larger than max_period " +
                               std::to_string(period.max));

  auto s = std::make_shared<DataSplits>();
  s->info.task = TaskKind::language_model;
  s->info.vocab_size = S + 1;
  s->info.num_classes = S + 1;
  s->info.feature_dim = 0;
  s->info.sequential = true;
  Rng train_rng(derive_seed(args.seed, "pattern_lm/train"));
  Rng val_rng(derive_seed(args.seed, "pattern_lm/val"));
  Rng test_rng(derive_seed(args.seed, "pattern_lm/test"));
  generate(s->train, n.train, len, period, S, train_rng);
  generate(s->val, n.val, len, period, S, val_rng);
  generate(s->test, n.test, len, period, S, test_rng);
  return s;
}

}  // namespace nl
