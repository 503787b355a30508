// Optimizer state dicts (resume gives bit-identical steps) and the JSON factory.
#include "helpers.h"
#include "optim/adam.h"
#include "optim/factory.h"
#include "optim/sgd.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
// Feeds step k of a fixed gradient sequence to both parameters.
void feed(Optimizer& opt, int64_t k) {
  for (auto& [name, p] : opt.params()) {
    Tensor g = rand_tensor(p.shape(), 1000 + 17 * k + name.size(), false);
    Tensor(p).set_grad(g);
  }
  opt.step();
}

template <class Make>
void check_resume(Make make) {
  Tensor w = rand_tensor({4, 3}, 1), b = rand_tensor({3}, 2);
  auto a = make(NamedParams{{"fc.weight", w}, {"fc.bias", b}});
  for (int k = 0; k < 3; ++k) feed(*a, k);
  // Snapshot parameters and optimizer state (cloned: state tensors alias the optimizer's).
  std::map<std::string, Tensor> snap;
  for (auto& [k, t] : a->state_dict()) snap[k] = t.clone();
  Tensor w0 = w.clone(), b0 = b.clone();
  for (int k = 3; k < 6; ++k) feed(*a, k);

  Tensor w2 = w0.clone().requires_grad_(), b2 = b0.clone().requires_grad_();
  auto r = make(NamedParams{{"fc.weight", w2}, {"fc.bias", b2}});
  r->load_state_dict(snap);
  REQUIRE(r->step_count() == 3);
  for (int k = 3; k < 6; ++k) feed(*r, k);
  REQUIRE(w2.to_vector() == w.to_vector());  // bit-identical
  REQUIRE(b2.to_vector() == b.to_vector());

  // A state missing a slot, or with a wrong shape, is rejected before anything changes.
  auto missing = snap;
  missing.erase(missing.rbegin()->first);
  REQUIRE_THROWS_AS(r->load_state_dict(missing), ValueError);
  auto wrong = snap;
  for (auto& [k, t] : wrong)
    if (k.rfind("fc.bias.", 0) == 0 && k != "fc.bias.step") t = Tensor::zeros({5});
  REQUIRE_THROWS_AS(r->load_state_dict(wrong), ShapeError);  // every type has a bias slot
  auto extra = snap;
  extra["fc.gamma.exp_avg"] = Tensor::zeros({3});
  REQUIRE_THROWS_MENTIONING(r->load_state_dict(extra), "unexpected", "fc.gamma.exp_avg");
  REQUIRE(r->step_count() == 6);
}
}  // namespace

TEST_CASE("Optimizer state_dict round trip: Adam, AdamW and SGD resume bit-identically", "[optim]") {
  check_resume([](NamedParams p) { return std::make_unique<Adam>(std::move(p), AdamOptions{}); });
  check_resume([](NamedParams p) { return std::make_unique<Adam>(std::move(p), adamw_options(0.01, 0.1)); });
  check_resume([](NamedParams p) {
    return std::make_unique<SGD>(std::move(p), SGDOptions{0.1, 0.9, true, 1e-3});
  });
  // Step counts stay exact past float's 2^24.
  const int64_t big = (int64_t{1} << 24) * 3 + 12345;
  REQUIRE(decode_count(encode_count(big), "step") == big);
}

TEST_CASE("make_optimizer and make_schedule read the optim section strictly", "[optim][config]") {
  Tensor w = rand_tensor({2, 2}, 3);
  {
    json j = json::parse(R"({"type": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": true,
                             "grad_clip": 1.0, "schedule": "cosine", "warmup_steps": 10, "min_lr": 0.001})");
    ConfigReader cfg(j, "optim");
    OptimSetup s = make_optim_setup(cfg, {{"w", w}}, 100);
    auto* sgd = dynamic_cast<SGD*>(s.optimizer.get());
    REQUIRE(sgd);
    REQUIRE(sgd->options().nesterov);
    REQUIRE(sgd->options().momentum == 0.9);
    REQUIRE(sgd->get_lr() == 0.05);
    REQUIRE(sgd->grad_clip() == 1.0);
    REQUIRE(s.schedule.lr_at(9) == Approx(0.05));
    REQUIRE(s.schedule.lr_at(100) == Approx(0.001));
  }
  {
    const json empty = json::object();  // the reader keeps a pointer: keep the source alive
    ConfigReader cfg(empty, "optim");
    OptimSetup s = make_optim_setup(cfg, {{"w", w}}, 10);
    auto* adam = dynamic_cast<Adam*>(s.optimizer.get());
    REQUIRE(adam);
    REQUIRE(adam->type_name() == "AdamW");
    REQUIRE(adam->options().weight_decay == 0.01);
    REQUIRE(s.schedule.lr_at(5) == 1e-3);
    REQUIRE(cfg.effective().at("beta2") == 0.999);
  }
  auto fails = [&](const char* text) {
    json j = json::parse(text);
    ConfigReader cfg(j, "optim");
    return make_optim_setup(cfg, {{"w", w}}, 100);
  };
  REQUIRE_THROWS_MENTIONING(fails(R"({"type": "adam", "momentum": 0.9})"), "optim.momentum", "unknown");
  REQUIRE_THROWS_MENTIONING(fails(R"({"type": "adamw", "beta_1": 0.9})"), "did you mean 'optim.beta1'");
  REQUIRE_THROWS_MENTIONING(fails(R"({"type": "rmsprop"})"), "optim.type");
  REQUIRE_THROWS_MENTIONING(fails(R"({"lr": -1})"), "optim.lr", "range");
  REQUIRE_THROWS_MENTIONING(fails(R"({"type": "sgd", "nesterov": true})"), "optim.nesterov", "momentum");
  REQUIRE_THROWS_MENTIONING(fails(R"({"schedule": "cosine", "warmup_steps": 200})"), "warmup_steps");
  REQUIRE_THROWS_MENTIONING(fails(R"({"schedule": "cosnie"})"), "did you mean 'cosine'");
}
