// Token embedding or feature projection at the bottom of the sequence models.
#include "models/sequence_input.h"

#include "core/error.h"
#include "layers/embedding.h"
#include "layers/linear.h"

namespace nl {

SequenceInput::SequenceInput(const DatasetInfo& info, int64_t width, Rng& rng)
    : tokens_(info.vocab_size > 0),
      vocab_size_(info.vocab_size),
      in_features_(info.feature_dim),
      out_features_(width) {
  if (!info.sequential)
    throw ValueError("sequence models need sequential data (this dataset is flat; use 'mlp')");
  if (tokens_) {
    if (width < 1) throw ValueError("SequenceInput: token data needs an embedding width >= 1");
    embed_ = register_module("embed", std::make_shared<Embedding>(EmbeddingOptions{vocab_size_, width}, rng));
  } else {
    if (in_features_ < 1)
      throw ValueError("SequenceInput: the dataset reports no feature width (feature_dim = 0)");
    if (width == 0)
      out_features_ = in_features_;
    else
      proj_ = register_module("proj", std::make_shared<Linear>(LinearOptions{in_features_, width, true}, rng));
  }
}

std::string SequenceInput::extra_repr() const {
  if (tokens_) return "tokens, vocab=" + std::to_string(vocab_size_) + ", dim=" + std::to_string(out_features_);
  return "features=" + std::to_string(in_features_) + (proj_ ? " -> " + std::to_string(out_features_) : "");
}

Tensor SequenceInput::forward(const Tensor& inputs) {
  if (tokens_) {
    if (!inputs.defined() || inputs.dim() != 2)
      throw ShapeError("SequenceInput: token inputs " +
                       (inputs.defined() ? shape_str(inputs.shape()) : std::string("undefined")) +
                       " must be (B,T) ids");
    return embed_->forward(inputs);
  }
  if (!inputs.defined() || inputs.dim() != 3 || inputs.size(2) != in_features_)
    throw ShapeError("SequenceInput: feature inputs " +
                     (inputs.defined() ? shape_str(inputs.shape()) : std::string("undefined")) +
                     " must be (B,T," + std::to_string(in_features_) + ")");
  return proj_ ? proj_->forward(inputs) : inputs;
}

}  // namespace nl
