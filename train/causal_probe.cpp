// The causal-leak probe (see train/causal_probe.h).
#include "train/causal_probe.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "layers/batchnorm.h"
#include "train/evaluation.h"
#include "train/task_loss.h"

namespace nl {

namespace {

void collect_batchnorms(Module& m, std::vector<BatchNorm*>& out) {
  if (auto* bn = dynamic_cast<BatchNorm*>(&m)) out.push_back(bn);
  for (const auto& [name, child] : m.children()) collect_batchnorms(*child, out);
}

// Valid positions of a batch: its mask, or every position of (B,T).
bool valid(const Batch& b, int64_t i) { return !b.mask.defined() || b.mask.data()[i] != 0.0f; }

int64_t valid_count(const Batch& b) {
  int64_t n = 0;
  for (int64_t i = 0; i < b.inputs.numel(); ++i) n += valid(b, i);
  return n;
}

int64_t length_of(const Batch& b, int64_t s) {
  return b.lengths.defined() ? static_cast<int64_t>(b.lengths.data()[s]) : b.inputs.size(1);
}

// One forward pass: batch statistics (train mode without dropout) or running statistics.
// The caller restores the buffers a train-mode pass updates.
Tensor run(Model& model, const Batch& b, bool batch_stats) {
  model.train(batch_stats);
  if (batch_stats) dropout_off(model);
  return model.forward_batch(b);
}

// The largest |a - b| over the logits of valid positions t < half (a, b: (B,T,V)).
double prefix_change(const Tensor& a, const Tensor& b, const Batch& batch, int64_t half) {
  const int64_t B = a.size(0), T = a.size(1), V = a.size(2);
  double worst = 0;
  for (int64_t s = 0; s < B; ++s)
    for (int64_t t = 0; t < half; ++t) {
      if (!valid(batch, s * T + t)) continue;
      const float* pa = a.data() + (s * T + t) * V;
      const float* pb = b.data() + (s * T + t) * V;
      for (int64_t v = 0; v < V; ++v)
        worst = std::max(worst, std::abs(static_cast<double>(pa[v]) - static_cast<double>(pb[v])));
    }
  return worst;
}

double lm_loss(const Tensor& out, const Batch& b) {
  return task_loss(TaskKind::language_model, out, b).loss.item();
}

}  // namespace

json causal_probe(Model& model, const Batch& x, const Batch& y, int64_t vocab_size, uint64_t seed) {
  if (!x.inputs.defined() || x.inputs.dim() != 2)
    throw ShapeError("causal_probe: expected a batch of token ids (B,T)");
  if (vocab_size < 3) throw ValueError("causal_probe: needs a vocabulary of at least 3 ids (0 = padding)");
  NoGradGuard no_grad;
  const int64_t B = x.inputs.size(0), T = x.inputs.size(1), half = T / 2;

  // The altered copy of x: one sequence's valid tokens at t >= T/2 replaced by other ids.
  int64_t seq = 0;
  while (seq < B && length_of(x, seq) <= half) ++seq;
  if (seq == B) throw ValueError("causal_probe: no sequence of the batch is longer than T/2");
  Batch alt = x;
  alt.inputs = x.inputs.clone();
  Rng rng(seed);
  int64_t changed = 0;
  for (int64_t t = half; t < length_of(x, seq); ++t) {
    float& id = alt.inputs.data()[seq * T + t];
    // Another id of 1..V-1: an offset of 1..V-2 around that range.
    const int64_t old = std::clamp<int64_t>(static_cast<int64_t>(id), 1, vocab_size - 1);
    const int64_t off = 1 + static_cast<int64_t>(rng.randint(static_cast<uint64_t>(vocab_size - 2)));
    id = static_cast<float>(1 + (old - 1 + off) % (vocab_size - 1));
    ++changed;
  }

  const BufferSnapshot saved(model);
  auto restore = [&] { saved.restore(model); };

  json r = json::object();
  const Tensor own = run(model, x, true);
  restore();
  const Tensor own_alt = run(model, alt, true);
  restore();
  const Tensor running = run(model, x, false);
  const Tensor running_alt = run(model, alt, false);
  r["leak_train"] = prefix_change(own, own_alt, x, half);
  r["leak_eval"] = prefix_change(running, running_alt, x, half);

  std::vector<BatchNorm*> bns;
  collect_batchnorms(model, bns);
  bool control = !bns.empty();
  for (BatchNorm* bn : bns) control = control && bn->options().momentum > 0 && bn->options().steps == 0;
  if (control) {
    r["loss_own_stats"] = lm_loss(own, x);
    // Y's statistics as each layer sees them: from zeroed running buffers one train-mode pass
    // leaves momentum * (batch mean, unbiased batch variance) in them; undo the momentum and
    // the n/(n-1) (n = Y's valid positions, which masked BN counts) to get the biased variance.
    for (BatchNorm* bn : bns) bn->running_mean.fill_(0.0f), bn->running_var.fill_(0.0f);
    run(model, y, true);
    const double n = static_cast<double>(valid_count(y));
    for (BatchNorm* bn : bns) {
      const double m = bn->options().momentum;
      float* rm = bn->running_mean.data();
      float* rv = bn->running_var.data();
      for (int64_t c = 0; c < bn->running_mean.numel(); ++c) {
        rm[c] = static_cast<float>(rm[c] / m);
        rv[c] = static_cast<float>(rv[c] / m * (n - 1) / n);
      }
    }
    r["loss_other_stats"] = lm_loss(run(model, x, false), x);
    restore();
    r["loss_running_stats"] = lm_loss(running, x);
  }
  restore();
  model.train(true);
  r["batch_size"] = B;
  r["seq_len"] = T;
  r["changed_tokens"] = changed;
  return r;
}

}  // namespace nl
