// Optimizers and schedules from the config's "optim" section. Keys (all documented through the
// ConfigReader, so `normlab config --defaults` lists them):
//   type          sgd | adam | adamw                          (default adamw)
//   lr            peak learning rate                          (default 1e-3)
//   weight_decay  L2 (sgd, adam) or decoupled (adamw)         (default 0; adamw 0.01)
//   grad_clip     clip the global gradient norm to this, 0 = off (default 0)
//   sgd only:     momentum (0), nesterov (false)
//   adam/adamw:   beta1 (0.9), beta2 (0.999), eps (1e-8)
//   schedule      constant | linear | cosine | step           (default constant)
//   warmup_steps  linear warm-up length for any schedule      (default 0)
//   min_lr        floor of linear/cosine decay                (default 0)
//   step_size, gamma   step decay: lr·gamma every step_size steps (1000, 0.1)
// Keys of the other optimizer type are unknown keys (a typo guard: "momentum" with adam fails).
#pragma once
#include <memory>

#include "core/config_reader.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"

namespace nl {

// Reads the optimizer keys; does not call cfg.finish() (the schedule keys share the section).
std::unique_ptr<Optimizer> make_optimizer(ConfigReader& cfg, NamedParams params);
// Reads the schedule keys (and lr); does not call cfg.finish().
LrSchedule make_schedule(ConfigReader& cfg, int64_t total_steps);

// Both, then cfg.finish(): the usual way to read a whole "optim" section.
struct OptimSetup {
  std::unique_ptr<Optimizer> optimizer;
  LrSchedule schedule;
};
OptimSetup make_optim_setup(ConfigReader& cfg, NamedParams params, int64_t total_steps);

}  // namespace nl
