// The dataset registry: one line per dataset type ("data.type" in a config).
#include "data/datasets.h"

namespace nl {

DatasetRegistry& dataset_registry() {
  static DatasetRegistry* r = [] {
    auto* reg = new DatasetRegistry("dataset");
    reg->add("adding", make_adding_dataset, "the adding problem (regression, 2 features per step, variable length)");
    reg->add("sequence_class", make_sequence_class_dataset, "majority / parity / first-token classification over variable-length token sequences");
    reg->add("pattern_lm", make_pattern_lm_dataset, "next-token prediction on repeated random patterns");
    reg->add("fashion_mnist", make_fashion_mnist_dataset, "Fashion-MNIST images (flat 784 or 28 rows x 28), package dataset-fashion-mnist");
    reg->add("words", make_words_dataset, "word -> language from the Debian word lists (characters as tokens)");
    reg->add("text", make_text_dataset, "character-level language modelling on the Debian licence texts");
    return reg;
  }();
  return *r;
}

}  // namespace nl
