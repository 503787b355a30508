// Evaluation of one split (see train/evaluation.h).
#include "train/evaluation.h"

#include <optional>

#include "core/autograd.h"
#include "data/loader.h"

namespace nl {

void dropout_off(Module& m) {
  if (m.type_name() == "Dropout") m.train(false);
  for (const auto& [name, child] : m.children()) dropout_off(*child);
}

BufferSnapshot::BufferSnapshot(const Module& m) {
  for (const auto& [name, t] : m.named_buffers()) saved_[name] = t.clone();
}

void BufferSnapshot::restore(Module& m) const { m.load_state_dict(saved_, /*strict=*/false); }

EvalResult evaluate_split(Model& model, TaskKind task, const Dataset& data, const DatasetInfo& info,
                          const LoaderOptions& loader, const EvalOptions& opt) {
  NoGradGuard no_grad;
  LoaderOptions lo = loader.for_eval();
  if (opt.batch_size > 0) lo.batch_size = opt.batch_size;
  lo.shuffle = opt.shuffle;
  // Batch statistics need more than one value per feature: drop a final batch of one.
  if (opt.batch_stats && data.size() > 1 && data.size() % lo.batch_size == 1) lo.drop_last = true;
  // A fresh loader: its first epoch's order depends on the seed alone (not on training).
  DataLoader dl(data, info, lo, opt.shuffle ? opt.shuffle_seed : 0);
  int64_t n = dl.batches_per_epoch();
  if (opt.max_batches > 0) n = std::min(n, opt.max_batches);

  EvalResult res;
  res.batch_size = lo.batch_size;
  if (opt.by_length) res.buckets = LengthBuckets(data, info, opt.length_edges);
  const bool per_example = !res.buckets.empty();

  std::optional<BufferSnapshot> saved;
  if (opt.batch_stats) saved.emplace(model);
  model.train(opt.batch_stats);
  if (opt.batch_stats) dropout_off(model);
  for (int64_t i = 0; i < n; ++i) {
    Batch b = dl.next();
    TaskLoss tl = task_loss(task, model.forward_batch(b), b, per_example);
    res.total.add(tl.loss.item(), tl);
    if (per_example) res.buckets.add(b, tl);
  }
  if (saved) saved->restore(model);
  model.train(true);
  return res;
}

}  // namespace nl
