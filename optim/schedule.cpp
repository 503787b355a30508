// LR schedules (see schedule.h for the formulas).
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nl {

const std::vector<std::string>& LrSchedule::types() {
  static const std::vector<std::string> t = {"constant", "linear", "cosine", "step"};
  return t;
}

LrSchedule::LrSchedule(const ScheduleOptions& o) : options_(o) {
  if (std::find(types().begin(), types().end(), o.type) == types().end())
    throw ValueError("LrSchedule: unknown type '" + o.type + "'");
  if (!(o.lr >= 0.0) || !(o.min_lr >= 0.0)) throw ValueError("LrSchedule: lr and min_lr must be >= 0");
  if (o.warmup_steps < 0 || o.total_steps < 0) throw ValueError("LrSchedule: step counts must be >= 0");
  if (o.type == "step" && (o.step_size < 1 || !(o.gamma > 0.0)))
    throw ValueError("LrSchedule: step needs step_size >= 1 and gamma > 0");
  if ((o.type == "linear" || o.type == "cosine") && o.total_steps <= o.warmup_steps)
    throw ValueError("LrSchedule: " + o.type + " needs total_steps (" + std::to_string(o.total_steps) +
                     ") > warmup_steps (" + std::to_string(o.warmup_steps) + ")");
}

double LrSchedule::lr_at(int64_t s) const {
  const ScheduleOptions& o = options_;
  s = std::max<int64_t>(s, 0);
  if (s < o.warmup_steps) return o.lr * static_cast<double>(s + 1) / static_cast<double>(o.warmup_steps);
  const int64_t after = s - o.warmup_steps;
  if (o.type == "constant") return o.lr;
  if (o.type == "step") return o.lr * std::pow(o.gamma, static_cast<double>(after / o.step_size));
  const double u = std::min(1.0, static_cast<double>(after) / static_cast<double>(o.total_steps - o.warmup_steps));
  if (o.type == "linear") return o.lr + (o.min_lr - o.lr) * u;
  return o.min_lr + (o.lr - o.min_lr) * 0.5 * (1.0 + std::cos(M_PI * u));  // cosine
}

}  // namespace nl
