// Adam and AdamW against the update formula evaluated by hand in double; the optimizer step
// on the pool against one thread.
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstring>
#include <memory>
#include <thread>

#include "helpers.h"
#include "optim/adam.h"
#include "optim/sgd.h"

using namespace nl;

namespace {
// Runs `opt` for the given per-step gradients of a parameter and returns its values after
// each step.
std::vector<std::vector<float>> run(Optimizer& opt, Tensor p, const std::vector<std::vector<float>>& grads) {
  std::vector<std::vector<float>> out;
  for (const auto& g : grads) {
    p.set_grad(Tensor::from_vector(g, p.shape()));
    opt.step();
    out.push_back(p.to_vector());
  }
  return out;
}

// The textbook formula (Kingma & Ba, Algorithm 1, with PyTorch's eps placement), in double.
std::vector<std::vector<double>> adam_by_hand(std::vector<double> p, const std::vector<std::vector<float>>& grads,
                                              double lr, double b1, double b2, double eps, double wd,
                                              bool decoupled) {
  std::vector<double> m(p.size(), 0.0), v(p.size(), 0.0);
  std::vector<std::vector<double>> out;
  for (size_t t = 1; t <= grads.size(); ++t) {
    for (size_t j = 0; j < p.size(); ++j) {
      double g = grads[t - 1][j];
      if (decoupled) p[j] *= 1.0 - lr * wd;
      else g += wd * p[j];
      m[j] = b1 * m[j] + (1 - b1) * g;
      v[j] = b2 * v[j] + (1 - b2) * g * g;
      const double m_hat = m[j] / (1 - std::pow(b1, double(t)));
      const double v_hat = v[j] / (1 - std::pow(b2, double(t)));
      p[j] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
    out.push_back(p);
  }
  return out;
}

const std::vector<std::vector<float>> kGrads = {{0.1f, -0.2f, 0.0f}, {0.3f, 0.05f, 1e-3f}, {-0.2f, 0.4f, -2.0f}};
}  // namespace

TEST_CASE("Adam first 3 steps match the formula computed by hand", "[optim]") {
  Tensor p = Tensor::from_vector({0.5f, -1.0f, 2.0f}, {3}).requires_grad_();
  Adam opt({{"w", p}}, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.0, false});
  const auto got = run(opt, p, kGrads);
  const auto want = adam_by_hand({0.5, -1.0, 2.0}, kGrads, 0.01, 0.9, 0.999, 1e-8, 0.0, false);
  // Step 1 by hand: m̂ = g, v̂ = g², so the update is lr·g/(|g|+eps) = ±0.01 (0 where g = 0).
  // (relative 1e-7: eps/|g| = 1e-7 shortens the step, and g = 0.1 is not exact in float)
  REQUIRE(want[0][0] == Approx(0.49).epsilon(1e-7));
  REQUIRE(want[0][1] == Approx(-0.99).epsilon(1e-7));
  REQUIRE(want[0][2] == 2.0);
  for (size_t t = 0; t < 3; ++t)
    for (size_t j = 0; j < 3; ++j) {
      INFO("step " << t + 1 << " element " << j);
      // float32 arithmetic on O(1) values: a few ulps of 2.0 (~2.4e-7 each).
      REQUIRE(std::abs(got[t][j] - want[t][j]) < 2e-6);
    }
  REQUIRE(opt.step_count() == 3);
  REQUIRE(opt.type_name() == "Adam");
}

TEST_CASE("Adam with L2 weight decay and AdamW with decoupled decay match their formulas", "[optim]") {
  for (bool decoupled : {false, true}) {
    INFO((decoupled ? "AdamW" : "Adam"));
    Tensor p = Tensor::from_vector({0.5f, -1.0f, 2.0f}, {3}).requires_grad_();
    Adam opt({{"w", p}}, AdamOptions{0.05, 0.8, 0.99, 1e-6, 0.1, decoupled});
    const auto got = run(opt, p, kGrads);
    const auto want = adam_by_hand({0.5, -1.0, 2.0}, kGrads, 0.05, 0.8, 0.99, 1e-6, 0.1, decoupled);
    for (size_t t = 0; t < 3; ++t)
      for (size_t j = 0; j < 3; ++j) REQUIRE(std::abs(got[t][j] - want[t][j]) < 2e-6);
  }
  // With a zero gradient AdamW only decays: p ← p·(1 − lr·wd) each step; Adam's L2 term is
  // a gradient instead, so it moves by ~lr.
  Tensor p = Tensor::from_vector({1.0f, -4.0f}, {2}).requires_grad_();
  Adam adamw({{"w", p}}, adamw_options(0.1, 0.5));
  run(adamw, p, {{0.0f, 0.0f}, {0.0f, 0.0f}});
  REQUIRE(p.to_vector()[0] == Approx(0.95 * 0.95).epsilon(1e-6));
  REQUIRE(p.to_vector()[1] == Approx(-4.0 * 0.95 * 0.95).epsilon(1e-6));
  REQUIRE(adamw.type_name() == "AdamW");
}

TEST_CASE("Adam skips parameters without a gradient and keeps per-parameter step counts", "[optim]") {
  Tensor a = Tensor::from_vector({1.0f}, {1}).requires_grad_();
  Tensor b = Tensor::from_vector({1.0f}, {1}).requires_grad_();
  Adam opt({{"a", a}, {"b", b}}, AdamOptions{0.1, 0.9, 0.999, 1e-8, 0.0, false});
  a.set_grad(Tensor::from_vector({1.0f}, {1}));
  opt.step();  // b has no gradient: untouched
  REQUIRE(b.to_vector()[0] == 1.0f);
  b.set_grad(Tensor::from_vector({1.0f}, {1}));
  opt.step();
  // b's first update uses t = 1 (bias correction makes it exactly lr·g/|g|).
  REQUIRE(b.to_vector()[0] == Approx(0.9).epsilon(1e-6));
  auto s = opt.state_dict();
  REQUIRE(decode_count(s.at("a.step"), "a.step") == 2);
  REQUIRE(decode_count(s.at("b.step"), "b.step") == 1);
  REQUIRE(decode_count(s.at("step"), "step") == 2);
}

TEST_CASE("Adam and SGD with momentum give the same bits on the pool as on one thread", "[optim]") {
  // A parameter large enough to be cut into ranges at 2 threads (the optimizer's grain is 16 K
  // elements), and a pool job that a worker runs before each step, so that step() splits: each
  // range must find its own slice of the moments (a wrong offset changes the second half).
  ThreadCountGuard restore_threads;
  const int64_t n = 3 * (int64_t{1} << 14) + 5;
  auto train = [&](int threads, bool sgd) {
    set_num_threads(threads);
    Rng rng(7);
    Tensor p = Tensor::normal({n}, 0.0f, 1.0f, rng).requires_grad_();
    std::unique_ptr<Optimizer> opt;
    if (sgd) opt = std::make_unique<SGD>(NamedParams{{"w", p}}, SGDOptions{0.05, 0.9, true, 1e-3});
    else opt = std::make_unique<Adam>(NamedParams{{"w", p}}, AdamOptions{0.01, 0.9, 0.999, 1e-8, 1e-2, true});
    for (int step = 0; step < 4; ++step) {
      const uint64_t jobs = pool_worker_jobs();
      parallel_for(2, 1, [](int64_t, int64_t) {});  // at 2 threads a worker runs chunk 1
      // ...unless the pool found its threads taking turns (another test busy on the other CPU
      // under `ctest -j2`) and runs its jobs on the caller for a while: wait for the workers.
      for (int i = 0; threads > 1 && pool_worker_jobs() == jobs && i < 3000; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        parallel_for(2, 1, [](int64_t, int64_t) {});
      }
      if (threads > 1) REQUIRE(pool_worker_jobs() > jobs);
      p.set_grad(Tensor::normal({n}, 0.0f, 1.0f, rng));
      opt->step();
    }
    return p.to_vector();
  };
  for (bool sgd : {false, true}) {
    INFO((sgd ? "SGD" : "Adam"));
    const std::vector<float> one = train(1, sgd), two = train(2, sgd);
    REQUIRE(one.size() == two.size());
    REQUIRE(std::memcmp(one.data(), two.data(), one.size() * sizeof(float)) == 0);
  }
}

// A gradient that stays 0 after one step lets Adam's first moment decay by beta1 a step, into
// denormals after ~800 steps; the optimizer flushes them to 0 (core/denormals.h: on Intel cores
// each denormal operation costs ~100 cycles) without moving the parameter, and leaves the
// caller's floating-point mode as it found it.
TEST_CASE("Adam flushes moments that decay into denormals to zero; the parameter does not move",
          "[optim][adam][denormals]") {
  Tensor p = Tensor::from_vector({0.5f, -0.25f}, {2}).requires_grad_();
  AdamOptions o;
  o.lr = 1e-3;
  Adam opt({{"p", p}}, o);
  p.set_grad(Tensor::from_vector({1e-3f, -2e-3f}, {2}));
  opt.step();
  const std::vector<float> after_first = p.to_vector();
  p.set_grad(Tensor::zeros({2}));
  std::vector<float> before_last;
  for (int step = 0; step < 800; ++step) {
    before_last = p.to_vector();
    opt.step();
  }
  const auto state = opt.state_dict();
  const std::vector<float> m = state.at("p.exp_avg").to_vector();
  for (float x : m) {
    CHECK(std::fpclassify(x) != FP_SUBNORMAL);
    CHECK(x == 0.0f);  // 1e-4 · 0.9^800 ≈ 3e-41 would be a denormal
  }
  CHECK(p.to_vector() == before_last);  // a flushed moment moves nothing
  CHECK(p.to_vector() != after_first);  // but the decaying moments did, earlier
  volatile float tiny = FLT_MIN;
  volatile float half = 0.5f;
  CHECK(std::fpclassify(tiny * half) == FP_SUBNORMAL);  // the caller's mode is back
}

