// Helpers for the model tests: dataset descriptions, hand-made padded batches, building a
// model from a JSON spec.
#pragma once
#include <memory>
#include <vector>

#include "core/normlab.h"
#include "models/model.h"

namespace nl::test {

inline DatasetInfo token_class_info(int64_t vocab = 7, int64_t classes = 3, int64_t max_len = 12) {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.vocab_size = vocab;
  i.num_classes = classes;
  i.max_length = max_len;
  return i;
}
inline DatasetInfo feature_class_info(int64_t F = 4, int64_t classes = 3, int64_t max_len = 12) {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.feature_dim = F;
  i.num_classes = classes;
  i.max_length = max_len;
  return i;
}
inline DatasetInfo flat_info(int64_t F = 6, int64_t classes = 3) {
  DatasetInfo i;
  i.task = TaskKind::classification;
  i.sequential = false;
  i.feature_dim = F;
  i.num_classes = classes;
  return i;
}
inline DatasetInfo adding_info(int64_t max_len = 12) {
  DatasetInfo i;
  i.task = TaskKind::regression;
  i.feature_dim = 2;
  i.max_length = max_len;
  return i;
}
inline DatasetInfo lm_info(int64_t vocab = 11, int64_t max_len = 16) {
  DatasetInfo i;
  i.task = TaskKind::language_model;
  i.vocab_size = vocab;
  i.max_length = max_len;
  return i;
}

inline std::shared_ptr<Model> build_model(const json& spec, const DatasetInfo& info, uint64_t seed = 7) {
  Rng rng(seed);
  ConfigReader cfg(spec, "model");
  return make_model(cfg, ModelArgs{info, &rng});
}

// A padded batch of sequences with the given lengths, padded to T (>= max length). Token data
// (vocab > 0) gets ids in [0, vocab), feature data F uniform features. Values at padded
// positions are `pad_value` (garbage on purpose: it must not matter).
inline Batch make_seq_batch(const std::vector<int64_t>& lengths, int64_t T, int64_t vocab, int64_t F,
                            uint64_t seed, float pad_value = 3.0f) {
  const int64_t B = static_cast<int64_t>(lengths.size());
  Rng rng(seed);
  Batch b;
  b.inputs = vocab > 0 ? Tensor::zeros({B, T}) : Tensor::zeros({B, T, F});
  b.mask = Tensor::zeros({B, T});
  b.lengths = Tensor::zeros({B});
  b.targets = Tensor::zeros({B});
  const int64_t W = vocab > 0 ? 1 : F;
  for (int64_t i = 0; i < B; ++i) {
    b.lengths.data()[i] = static_cast<float>(lengths[i]);
    for (int64_t t = 0; t < T; ++t) {
      const bool valid = t < lengths[i];
      b.mask.data()[i * T + t] = valid ? 1.0f : 0.0f;
      for (int64_t f = 0; f < W; ++f) {
        float v = vocab > 0 ? static_cast<float>(rng.randint(vocab)) : rng.uniform(-1, 1);
        if (!valid) v = vocab > 0 ? static_cast<float>(vocab - 1) : pad_value;
        b.inputs.data()[(i * T + t) * W + f] = v;
      }
    }
  }
  return b;
}

// The same sequences re-padded to T2 >= T (extra padding steps, same garbage value).
inline Batch repad(const Batch& b, int64_t T2, int64_t vocab, float pad_value = -5.0f) {
  const int64_t B = b.inputs.size(0), T = b.inputs.size(1);
  const int64_t W = b.inputs.dim() == 3 ? b.inputs.size(2) : 1;
  Batch o;
  o.inputs = b.inputs.dim() == 3 ? Tensor::full({B, T2, W}, pad_value)
                                 : Tensor::full({B, T2}, static_cast<float>(vocab > 1 ? vocab - 2 : 0));
  o.mask = Tensor::zeros({B, T2});
  o.lengths = b.lengths.clone();
  o.targets = b.targets.clone();
  for (int64_t i = 0; i < B; ++i)
    for (int64_t t = 0; t < T; ++t) {
      o.mask.data()[i * T2 + t] = b.mask.data()[i * T + t];
      if (b.mask.data()[i * T + t] == 0.0f) continue;
      for (int64_t f = 0; f < W; ++f) o.inputs.data()[(i * T2 + t) * W + f] = b.inputs.data()[(i * T + t) * W + f];
    }
  return o;
}

}  // namespace nl::test
