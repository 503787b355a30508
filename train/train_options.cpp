// Reading the "train" section (see train/train_options.h).
#include "train/train_options.h"

namespace nl {

TrainOptions read_train_options(ConfigReader& cfg) {
  TrainOptions o;
  o.steps = cfg.get_int("steps", o.steps, "optimizer steps to run (0: use train.epochs)", 0, 100000000);
  o.epochs = cfg.get_int("epochs", o.epochs,
                         "passes over the train split; when > 0 it sets the step count and "
                         "train.steps must be 0",
                         0, 100000);
  if (o.steps > 0 && o.epochs > 0)
    cfg.fail("epochs", "set either train.steps or train.epochs, not both (steps " +
                           std::to_string(o.steps) + ", epochs " + std::to_string(o.epochs) + ")");
  if (o.steps == 0 && o.epochs == 0) cfg.fail("steps", "one of train.steps or train.epochs must be > 0");
  o.batch_size = cfg.get_int("batch_size", o.batch_size, "examples per training batch", 1, 65536);
  o.log_interval = cfg.get_int("log_interval", o.log_interval,
                               "steps between train log lines (loss and metric averaged over them)",
                               1, 100000000);
  o.eval_interval = cfg.get_int("eval_interval", o.eval_interval,
                                "steps between evaluations on val (0: only at the end)", 0, 100000000);
  o.eval_batches = cfg.get_int("eval_batches", o.eval_batches,
                               "batches per evaluation, from the start of the split (0: all)", 0,
                               100000000);
  o.checkpoint_interval = cfg.get_int("checkpoint_interval", o.checkpoint_interval,
                                      "steps between checkpoints (0: only at the end and on Ctrl-C)",
                                      0, 100000000);
  o.bn_train_mode_eval = cfg.get_bool(
      "bn_train_mode_eval", o.bn_train_mode_eval,
      "for models with BatchNorm, also evaluate val in train mode (batch statistics, nothing "
      "updated) and report the gap to eval mode");
  o.bn_eval_batch_size = cfg.get_int(
      "bn_eval_batch_size", o.bn_eval_batch_size,
      "batch size of the batch-statistics evaluation (0: train.batch_size); it reads val in a "
      "shuffled order fixed by the seed, so its batches mix the classes of class-sorted splits",
      0, 65536);
  o.length_buckets = cfg.get_int_list(
      "length_buckets", o.length_buckets,
      "inclusive upper edges of the length buckets that val/test evaluations of variable-length "
      "data report metrics for (\"by_length\"), strictly increasing; longer sequences get one "
      "more bucket. []: 4 equal-width buckets over each split's length range (none when all "
      "sequences have one length)",
      1, 100000000);
  for (size_t i = 1; i < o.length_buckets.size(); ++i)
    if (o.length_buckets[i] <= o.length_buckets[i - 1])
      cfg.fail("length_buckets", "edges must be strictly increasing, got " +
                                     std::to_string(o.length_buckets[i - 1]) + " then " +
                                     std::to_string(o.length_buckets[i]));
  o.causal_probe = cfg.get_bool(
      "causal_probe", o.causal_probe,
      "language-model runs: at the end, probe on the first test batch whether any output at "
      "t < T/2 changes when later tokens change (BN in train mode leaks; summary final.probe)");
  cfg.finish();
  return o;
}

}  // namespace nl
