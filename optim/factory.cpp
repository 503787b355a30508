// Builds optimizers and schedules from the "optim" config section (keys in factory.h).
#include "optim/factory.h"

#include "optim/adam.h"
#include "optim/sgd.h"

namespace nl {

namespace {
// lr is read by both factories; one definition keeps default and doc identical.
double read_lr(ConfigReader& cfg) {
  return cfg.get_number("lr", 1e-3, "peak learning rate", 0.0, 10.0);
}
}  // namespace

std::unique_ptr<Optimizer> make_optimizer(ConfigReader& cfg, NamedParams params) {
  const std::string type = cfg.get_string("type", "adamw", "optimizer", {"sgd", "adam", "adamw"});
  const double lr = read_lr(cfg);
  const double grad_clip =
      cfg.get_number("grad_clip", 0.0, "clip the global gradient L2 norm to this (0 = off)", 0.0);
  std::unique_ptr<Optimizer> opt;
  if (type == "sgd") {
    SGDOptions o;
    o.lr = lr;
    o.momentum = cfg.get_number("momentum", 0.0, "SGD momentum", 0.0, 1.0);
    o.nesterov = cfg.get_bool("nesterov", false, "Nesterov momentum (needs momentum > 0)");
    o.weight_decay = cfg.get_number("weight_decay", 0.0, "L2 penalty added to the gradient", 0.0);
    if (o.nesterov && o.momentum <= 0.0) cfg.fail("nesterov", "needs momentum > 0");
    opt = std::make_unique<SGD>(std::move(params), o);
  } else {
    AdamOptions o;
    o.lr = lr;
    o.decoupled = type == "adamw";
    o.beta1 = cfg.get_number("beta1", 0.9, "decay of the first-moment average", 0.0, 0.999999);
    o.beta2 = cfg.get_number("beta2", 0.999, "decay of the second-moment average", 0.0, 0.999999);
    o.eps = cfg.get_number("eps", 1e-8, "added to the denominator (outside the square root)", 0.0);
    o.weight_decay = o.decoupled
        ? cfg.get_number("weight_decay", 0.01, "decoupled decay: p ← p·(1 − lr·wd)", 0.0)
        : cfg.get_number("weight_decay", 0.0, "L2 penalty added to the gradient", 0.0);
    opt = std::make_unique<Adam>(std::move(params), o);
  }
  opt->set_grad_clip(grad_clip);
  return opt;
}

LrSchedule make_schedule(ConfigReader& cfg, int64_t total_steps) {
  ScheduleOptions o;
  o.lr = read_lr(cfg);
  o.total_steps = total_steps;
  o.type = cfg.get_string("schedule", "constant", "learning-rate schedule after warm-up", LrSchedule::types());
  o.warmup_steps = cfg.get_int("warmup_steps", 0, "linear warm-up steps (any schedule)", 0);
  if (o.type == "linear" || o.type == "cosine") {
    o.min_lr = cfg.get_number("min_lr", 0.0, "lr at the end of the decay", 0.0);
    if (o.total_steps <= o.warmup_steps)
      cfg.fail("warmup_steps", "must be below the run's total steps (" + std::to_string(total_steps) + ")");
  }
  if (o.type == "step") {
    o.step_size = cfg.get_int("step_size", 1000, "decay the lr every step_size steps", 1);
    o.gamma = cfg.get_number("gamma", 0.1, "factor applied at each decay", 1e-12, 1.0);
  }
  return LrSchedule(o);
}

OptimSetup make_optim_setup(ConfigReader& cfg, NamedParams params, int64_t total_steps) {
  OptimSetup s;
  s.optimizer = make_optimizer(cfg, std::move(params));
  s.schedule = make_schedule(cfg, total_steps);
  cfg.finish();
  return s;
}

}  // namespace nl
