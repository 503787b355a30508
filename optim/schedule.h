// Learning-rate schedules: the lr as a pure function of the step index, so a resumed run gets
// the same lr without saving any schedule state.
//   warm-up (any type, warmup_steps = w > 0): lr·(s+1)/w for s < w
//   then, with u = (s − w) / (total_steps − w) clamped to [0, 1]:
//     constant  lr
//     linear    lr + (min_lr − lr)·u
//     cosine    min_lr + (lr − min_lr)·(1 + cos(π·u))/2      (Loshchilov & Hutter 2017, no restarts)
//     step      lr·gamma^⌊(s − w)/step_size⌋
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nl {

struct ScheduleOptions {
  std::string type = "constant";  // constant | linear | cosine | step
  double lr = 1e-3;               // the peak (base) learning rate
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;        // linear/cosine decay ends here
  double min_lr = 0.0;            // linear/cosine floor
  int64_t step_size = 1000;       // step: decay every step_size steps after warm-up
  double gamma = 0.1;             // step: decay factor
};

class LrSchedule {
 public:
  LrSchedule() = default;
  explicit LrSchedule(const ScheduleOptions& options);
  // The lr for step index s (0 for the first optimizer step).
  double lr_at(int64_t s) const;
  const ScheduleOptions& options() const { return options_; }

  static const std::vector<std::string>& types();

 private:
  ScheduleOptions options_;
};

}  // namespace nl
