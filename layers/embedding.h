// Embedding: a learned table of vectors looked up by token id (ids (B,T) -> (B,T,dim)).
#pragma once
#include "core/config_reader.h"
#include "core/rng.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace nl {

struct EmbeddingOptions {
  int64_t num_embeddings = 0;  // vocabulary size V
  int64_t embedding_dim = 0;   // C
};

class Embedding : public Module {
 public:
  Embedding(const EmbeddingOptions& options, Rng& rng);

  // ids: any shape S holding whole numbers in [0, V) -> S + (C). Out-of-range ids throw.
  Tensor forward(const Tensor& ids) override;

  // PyTorch's init: N(0, 1).
  void reset_parameters(Rng& rng) override;
  using Module::reset_parameters;

  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  int64_t output_features(int64_t) const override { return options_.embedding_dim; }

  const EmbeddingOptions& options() const { return options_; }
  Tensor weight;  // (V, C)

 private:
  EmbeddingOptions options_;
};

// Registry factory. Keys: num_embeddings (required, the vocabulary size), embedding_dim
// (required).
ModulePtr make_embedding(ConfigReader& cfg, const LayerArgs& args);

}  // namespace nl
