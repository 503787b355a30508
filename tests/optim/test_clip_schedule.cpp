// Global-norm clipping and the lr schedules at chosen steps.
#include <cmath>

#include "helpers.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "optim/sgd.h"

using namespace nl;

TEST_CASE("clip_grad_norm scales all gradients by max_norm/norm and returns the norm", "[optim]") {
  Tensor a = Tensor::zeros({2}).requires_grad_(), b = Tensor::zeros({1}).requires_grad_();
  Tensor c = Tensor::zeros({3}).requires_grad_();  // no gradient: counts as zero
  NamedParams ps = {{"a", a}, {"b", b}, {"c", c}};
  a.set_grad(Tensor::from_vector({3, 0}, {2}));
  b.set_grad(Tensor::from_vector({4}, {1}));
  REQUIRE(global_grad_norm(ps) == 5.0);
  REQUIRE(clip_grad_norm(ps, 10.0) == 5.0);  // under the limit: untouched
  REQUIRE(a.grad().to_vector() == std::vector<float>{3, 0});
  REQUIRE(clip_grad_norm(ps, 1.0) == 5.0);
  // factor 1/(5 + 1e-6): 1e-6 relative to the unclipped values.
  REQUIRE(a.grad().to_vector()[0] == Approx(0.6).epsilon(1e-6));
  REQUIRE(b.grad().to_vector()[0] == Approx(0.8).epsilon(1e-6));
  REQUIRE(global_grad_norm(ps) == Approx(1.0).epsilon(1e-6));
  REQUIRE(!c.grad().defined());
  REQUIRE_THROWS_AS(clip_grad_norm(ps, 0.0), ValueError);
}

TEST_CASE("Optimizer grad_clip clips before the update and records the norm", "[optim]") {
  Tensor p = Tensor::zeros({2}).requires_grad_();
  SGD opt({{"w", p}}, SGDOptions{1.0, 0.0, false, 0.0});
  opt.set_grad_clip(1.0);
  p.set_grad(Tensor::from_vector({6, 8}, {2}));
  opt.step();
  REQUIRE(opt.last_grad_norm() == 10.0);
  REQUIRE(p.to_vector()[0] == Approx(-0.6).epsilon(1e-6));
  REQUIRE(p.to_vector()[1] == Approx(-0.8).epsilon(1e-6));
}

TEST_CASE("LR schedules: warm-up, constant, linear, cosine and step at chosen steps", "[optim]") {
  ScheduleOptions o;
  o.lr = 1.0;
  o.warmup_steps = 10;
  o.total_steps = 110;
  LrSchedule constant(o);
  REQUIRE(constant.lr_at(0) == Approx(0.1));  // (0+1)/10
  REQUIRE(constant.lr_at(4) == Approx(0.5));
  REQUIRE(constant.lr_at(9) == 1.0);
  REQUIRE(constant.lr_at(500) == 1.0);

  o.type = "cosine";
  LrSchedule cosine(o);
  REQUIRE(cosine.lr_at(10) == 1.0);
  REQUIRE(cosine.lr_at(35) == Approx(0.5 * (1 + std::cos(M_PI / 4))));  // u = 25/100
  REQUIRE(cosine.lr_at(60) == Approx(0.5));
  REQUIRE(cosine.lr_at(110) == Approx(0.0).margin(1e-15));
  REQUIRE(cosine.lr_at(1000) == Approx(0.0).margin(1e-15));
  o.min_lr = 0.2;
  REQUIRE(LrSchedule(o).lr_at(60) == Approx(0.6));  // 0.2 + 0.8·0.5

  o.type = "linear";
  LrSchedule linear(o);
  REQUIRE(linear.lr_at(60) == Approx(0.6));  // 1 + (0.2 - 1)·0.5
  REQUIRE(linear.lr_at(85) == Approx(0.4));  // u = 0.75
  REQUIRE(linear.lr_at(300) == Approx(0.2));

  ScheduleOptions s;
  s.type = "step";
  s.lr = 0.8;
  s.step_size = 20;
  s.gamma = 0.5;
  LrSchedule step(s);
  REQUIRE(step.lr_at(0) == 0.8);
  REQUIRE(step.lr_at(19) == 0.8);
  REQUIRE(step.lr_at(20) == 0.4);
  REQUIRE(step.lr_at(45) == 0.2);

  ScheduleOptions bad;
  bad.type = "cosine";
  bad.warmup_steps = 5;
  bad.total_steps = 5;
  REQUIRE_THROWS_AS(LrSchedule(bad), ValueError);
}
