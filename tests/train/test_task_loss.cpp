// task_loss: the loss and metric of each task kind against hand-computed values, incl. the
// language-model mask, plus MetricSums weighting and Progress formatting.
#include <cmath>
#include <sstream>

#include "helpers.h"
#include "train/progress.h"
#include "train/task_loss.h"

using namespace nl;

TEST_CASE("task_loss classification: cross-entropy and accuracy", "[train]") {
  Batch b;
  b.inputs = Tensor::zeros({2, 3});
  b.targets = Tensor::from_vector({0, 2}, {2});
  // Row 0 predicts class 0 (right), row 1 predicts class 0 (wrong: target 2).
  const Tensor logits = Tensor::from_vector({2, 0, 0, 1, 0, 0}, {2, 3});
  const TaskLoss t = task_loss(TaskKind::classification, logits, b);
  const double l0 = std::log(std::exp(2.0) + 2.0) - 2.0, l1 = std::log(std::exp(1.0) + 2.0) - 0.0;
  REQUIRE(t.loss.item() == Approx((l0 + l1) / 2).epsilon(1e-5));  // float32 log-sum-exp
  REQUIRE(t.metric_sum == 1);
  REQUIRE(t.count == 2);
  REQUIRE_THROWS_AS(task_loss(TaskKind::classification, Tensor::zeros({3, 3}), b), ShapeError);
}

TEST_CASE("task_loss regression: mse over the batch, (B) or (B,1) output", "[train]") {
  Batch b;
  b.inputs = Tensor::zeros({3, 1});
  b.targets = Tensor::from_vector({1, 2, 3}, {3});
  const TaskLoss t = task_loss(TaskKind::regression, Tensor::from_vector({1, 0, 4}, {3, 1}), b);
  REQUIRE(t.loss.item() == Approx(5.0 / 3.0));
  REQUIRE(t.metric_sum == Approx(5.0));
  REQUIRE(t.count == 3);
  REQUIRE(std::string(metric_name(TaskKind::regression)) == "mse");
}

TEST_CASE("task_loss language_model: masked tokens neither count nor score", "[train]") {
  Batch b;
  b.inputs = Tensor::zeros({1, 3});
  b.targets = Tensor::from_vector({1, 0, 1}, {1, 3});
  b.mask = Tensor::from_vector({1, 1, 0}, {1, 3});
  // Token 0 right (argmax 1), token 1 wrong (argmax 1, target 0), token 2 padding (right but masked).
  const Tensor logits = Tensor::from_vector({0, 3, 0, 3, 0, 3}, {1, 3, 2});
  const TaskLoss t = task_loss(TaskKind::language_model, logits, b);
  REQUIRE(t.count == 2);
  REQUIRE(t.metric_sum == 1);
  const double right = std::log(1 + std::exp(-3.0)), wrong = std::log(1 + std::exp(3.0));
  REQUIRE(t.loss.item() == Approx((right + wrong) / 2).epsilon(1e-5));
}

TEST_CASE("MetricSums weight batches by their counts", "[train]") {
  MetricSums s;
  TaskLoss a, c;
  a.count = 1, a.metric_sum = 1;
  c.count = 3, c.metric_sum = 0;
  s.add(4.0, a);
  s.add(0.0, c);
  REQUIRE(s.loss() == Approx(1.0));  // (4*1 + 0*3) / 4
  REQUIRE(s.metric() == Approx(0.25));
  REQUIRE(MetricSums{}.loss() == 0);
}

TEST_CASE("Progress prints plain lines off a terminal and rewrites one line on it", "[train]") {
  std::ostringstream plain, tty;
  {
    Progress p(plain, false, false);
    p.status(1, 4, 0.5, "accuracy", 0.25, 10, 0.1, false);  // not a log step: nothing
    p.status(2, 4, 0.5, "accuracy", 0.25, 10, 0.2, true);
  }
  REQUIRE(plain.str() == "step 2/4  loss 0.5000  accuracy 0.2500  10.0 steps/s  ETA 0s\n");
  {
    Progress p(tty, true, false);
    p.status(1, 4, 0.5, "mse", 0.25, 10, 0.0, false);
    p.line("eval");
  }
  REQUIRE(tty.str().rfind("\r\033[Kstep 1/4", 0) == 0);
  REQUIRE(tty.str().find("\neval\n") != std::string::npos);
  REQUIRE(Progress::duration(3725) == "1h02m");
  REQUIRE(Progress::duration(65) == "1m05s");
}
