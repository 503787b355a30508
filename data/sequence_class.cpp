// Synthetic variable-length sequence classification over tokens 1..num_symbols (0 = padding):
//   majority:    the most frequent symbol (ties -> the smallest one); num_symbols classes
//   parity:      whether symbol 1 occurs an odd number of times; 2 classes
//   first_token: the first symbol (the model must carry it to the end); num_symbols classes
// Lengths are uniform in [min_length, max_length]; symbols uniform.
#include <algorithm>
#include <vector>

#include "core/rng.h"
#include "data/datasets.h"

namespace nl {
namespace {

enum class Rule { majority, parity, first_token };

void generate(Dataset& out, int64_t n, LengthRange len, int64_t S, Rule rule, Rng& rng) {
  out = Dataset(1, false);
  out.reserve(n, n * (len.min + len.max) / 2 + n);
  std::vector<float> x(static_cast<size_t>(len.max));
  std::vector<int64_t> count(static_cast<size_t>(S + 1));
  for (int64_t e = 0; e < n; ++e) {
    const int64_t L = len.min + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(len.max - len.min + 1)));
    std::fill(count.begin(), count.end(), 0);
    for (int64_t t = 0; t < L; ++t) {
      const int64_t tok = 1 + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(S)));
      x[t] = static_cast<float>(tok);
      ++count[tok];
    }
    int64_t label = 0;
    switch (rule) {
      case Rule::majority:
        label = std::max_element(count.begin() + 1, count.end()) - (count.begin() + 1);
        break;
      case Rule::parity: label = count[1] % 2; break;
      case Rule::first_token: label = static_cast<int64_t>(x[0]) - 1; break;
    }
    out.add(x.data(), L, static_cast<float>(label));
  }
}

}  // namespace

std::shared_ptr<DataSplits> make_sequence_class_dataset(ConfigReader& cfg, const DatasetArgs& args) {
  const SplitSizes n = read_split_sizes(cfg, {4000, 500, 500});
  const std::string rule_name = cfg.get_string(
      "rule", "majority", "the label: majority symbol, parity of symbol 1's count, or the first token",
      {"majority", "parity", "first_token"});
  const int64_t S = cfg.get_int("num_symbols", 2, "alphabet size (token ids 1..num_symbols)", 2, 1000);
  const LengthRange len = read_length_range(cfg, "", {5, 30}, 1, "sequence");
  const Rule rule = rule_name == "majority" ? Rule::majority
                    : rule_name == "parity" ? Rule::parity
                                            : Rule::first_token;

  auto s = std::make_shared<DataSplits>();
  s->info.task = TaskKind::classification;
  s->info.vocab_size = S + 1;
  s->info.feature_dim = 0;
  s->info.sequential = true;
  s->info.num_classes = rule == Rule::parity ? 2 : S;
  for (int64_t c = 0; c < s->info.num_classes; ++c)
    s->info.class_names.push_back(rule == Rule::parity ? (c ? "odd" : "even") : std::to_string(c + 1));
  Rng train_rng(derive_seed(args.seed, "sequence_class/train"));
  Rng val_rng(derive_seed(args.seed, "sequence_class/val"));
  Rng test_rng(derive_seed(args.seed, "sequence_class/test"));
  generate(s->train, n.train, len, S, rule, train_rng);
  generate(s->val, n.val, len, S, rule, val_rng);
  generate(s->test, n.test, len, S, rule, test_rng);
  return s;
}

}  // namespace nl
