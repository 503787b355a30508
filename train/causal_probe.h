// The causal-leak probe for language models (EXPERIMENTS.md, claim E5b). BatchNorm in train
// mode normalises with statistics over all B*T positions of the batch, later tokens included,
// so a causal LM's output at t can depend on tokens after t; LayerNorm (per token) and BN in
// eval mode (running statistics) cannot. On one batch X the probe measures:
//  - leak_train / leak_eval: change only the tokens at t >= T/2 of one sequence (the first
//    whose valid length exceeds T/2; new ids drawn from a seeded Rng among the other valid ids
//    1..V-1), run the model in train mode (batch statistics, dropout off, buffers restored) and
//    in eval mode, and take the largest absolute change of any logit at a valid position
//    t < T/2 of any sequence. Causal: exactly 0.
//  - the control, for models with BatchNorm: whether the loss exploits the leak. The LM loss
//    of X in train mode with its own batch statistics (loss_own_stats), of X normalised with
//    another batch Y's statistics (loss_other_stats: each BN layer's running statistics set to
//    the biased mean/variance that layer sees when Y passes in train mode, then eval mode),
//    and of X in eval mode with the true running statistics (loss_running_stats).
// Parameters and buffers are bit-identical afterwards; the model is left in train mode.
#pragma once
#include <cstdint>

#include "core/config_reader.h"
#include "data/batch.h"
#include "models/model.h"

namespace nl {

// x, y: language-model batches of token ids (y is only used for the BN control; it may be x
// itself, which makes loss_other_stats equal loss_own_stats up to rounding). vocab_size >= 3.
// Returns {"leak_train", "leak_eval", ["loss_own_stats", "loss_other_stats",
// "loss_running_stats",] "batch_size", "seq_len", "changed_tokens"}.
json causal_probe(Model& model, const Batch& x, const Batch& y, int64_t vocab_size, uint64_t seed);

}  // namespace nl
