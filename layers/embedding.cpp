// Embedding layer: the table lookup and its scatter-add backward are the embedding op
// (core/ops); this file holds the parameter, its init and the factory.
#include "layers/embedding.h"

#include "core/error.h"
#include "core/ops.h"

namespace nl {

Embedding::Embedding(const EmbeddingOptions& options, Rng& rng) : options_(options) {
  if (options.num_embeddings < 1 || options.embedding_dim < 1)
    throw ValueError("Embedding: num_embeddings and embedding_dim must be >= 1, got " +
                     std::to_string(options.num_embeddings) + " and " + std::to_string(options.embedding_dim));
  weight = register_parameter("weight", Tensor::zeros({options.num_embeddings, options.embedding_dim}));
  reset_parameters(rng);
}

void Embedding::reset_parameters(Rng& rng) {
  weight.copy_(Tensor::normal(weight.shape(), 0.0f, 1.0f, rng));
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids); }

std::string Embedding::extra_repr() const {
  return "num_embeddings=" + std::to_string(options_.num_embeddings) +
         ", embedding_dim=" + std::to_string(options_.embedding_dim);
}

ModulePtr make_embedding(ConfigReader& cfg, const LayerArgs& args) {
  EmbeddingOptions o;
  o.num_embeddings = cfg.get_int("num_embeddings", 0, "vocabulary size (number of rows)", 0);
  o.embedding_dim = cfg.get_int("embedding_dim", 0, "width of each embedding vector", 0);
  if (o.num_embeddings == 0) cfg.fail("num_embeddings", "is required (the vocabulary size)");
  if (o.embedding_dim == 0) cfg.fail("embedding_dim", "is required (the vector width)");
  if (!args.rng) throw ValueError("make_embedding: LayerArgs.rng is required (parameter init)");
  return std::make_shared<Embedding>(o, *args.rng);
}

}  // namespace nl
