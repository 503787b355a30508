// Module API: dotted names through nested modules, buffers, counts, train/eval propagation,
// zero_grad, state-dict round trip and its errors, the printed tree, registration guards.
#include "helpers.h"
#include "layers/linear.h"
#include "layers/sequential.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
// A stand-in norm: weight (C) and a running_mean buffer (C); counts mode changes.
class FakeNorm : public Module {
 public:
  explicit FakeNorm(int64_t C) {
    weight = register_parameter("weight", Tensor::ones({C}));
    running_mean = register_buffer("running_mean", Tensor::zeros({C}));
  }
  Tensor forward(const Tensor& x) override { return x * weight; }
  std::string type_name() const override { return "FakeNorm"; }
  std::string extra_repr() const override { return "C=" + std::to_string(weight.numel()); }
  Tensor weight, running_mean;
  int mode_changes = 0;

 protected:
  void on_mode_change() override { ++mode_changes; }
};

class Block : public Module {
 public:
  Block(int64_t C, Rng& rng) {
    norm1 = register_module("norm1", std::make_shared<FakeNorm>(C));
    fc = register_module("fc", std::make_shared<Linear>(LinearOptions{C, C, true}, rng));
  }
  Tensor forward(const Tensor& x) override { return fc->forward(norm1->forward(x)); }
  std::string type_name() const override { return "Block"; }
  std::shared_ptr<FakeNorm> norm1;
  std::shared_ptr<Linear> fc;
};

class Net : public Module {
 public:
  Net(int64_t C, Rng& rng) {
    blocks = register_module("blocks", std::make_shared<Sequential>());
    blocks->push_back(std::make_shared<Block>(C, rng));
    blocks->push_back(std::make_shared<Block>(C, rng));
    scale = register_parameter("scale", Tensor::full({1}, 0.5f));
  }
  Tensor forward(const Tensor& x) override { return blocks->forward(x) * scale; }
  std::string type_name() const override { return "Net"; }
  std::shared_ptr<Sequential> blocks;
  Tensor scale;
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::vector<std::string> out;
  for (auto& [n, _] : v) out.push_back(n);
  return out;
}
}  // namespace

TEST_CASE("Module named_parameters and named_buffers are dotted through nested modules", "[layers][module]") {
  Rng rng(1);
  Net net(3, rng);
  REQUIRE(names_of(net.named_parameters()) ==
          std::vector<std::string>{"scale", "blocks.0.norm1.weight", "blocks.0.fc.weight",
                                   "blocks.0.fc.bias", "blocks.1.norm1.weight",
                                   "blocks.1.fc.weight", "blocks.1.fc.bias"});
  REQUIRE(names_of(net.named_buffers()) ==
          std::vector<std::string>{"blocks.0.norm1.running_mean", "blocks.1.norm1.running_mean"});
  // 1 + 2 * (3 + 9 + 3)
  REQUIRE(net.num_parameters() == 31);
  REQUIRE(net.parameters().size() == 7);
  std::vector<std::string> mods;
  for (auto& [n, _] : net.named_modules()) mods.push_back(n);
  REQUIRE(mods == std::vector<std::string>{"", "blocks", "blocks.0", "blocks.0.norm1", "blocks.0.fc",
                                           "blocks.1", "blocks.1.norm1", "blocks.1.fc"});
  for (const Tensor& p : net.parameters()) REQUIRE(p.requires_grad());
}

TEST_CASE("Module train/eval propagates to every descendant", "[layers][module]") {
  Rng rng(2);
  Net net(2, rng);
  REQUIRE(net.is_training());
  net.eval();
  for (auto& [_, m] : net.named_modules()) REQUIRE(!m->is_training());
  REQUIRE(net.blocks->named_modules().size() == 7);  // itself + 2 blocks x 3
  REQUIRE(net.blocks->children().size() == 2);
  auto* block0 = static_cast<Block*>(net.blocks->children()[0].second.get());
  REQUIRE(block0->norm1->mode_changes == 1);
  net.eval();  // no change, no callback
  REQUIRE(block0->norm1->mode_changes == 1);
  net.train();
  for (auto& [_, m] : net.named_modules()) REQUIRE(m->is_training());
  // A child registered into a module in eval mode takes the parent's mode.
  net.eval();
  auto extra = std::make_shared<FakeNorm>(2);
  net.blocks->push_back(extra);
  REQUIRE(!extra->is_training());
}

TEST_CASE("Module zero_grad clears every parameter's gradient", "[layers][module]") {
  Rng rng(3);
  Net net(2, rng);
  sum(net.forward(rand_tensor({4, 2}, 4, false))).backward();
  for (const Tensor& p : net.parameters()) REQUIRE(p.grad().defined());
  net.zero_grad();
  for (const Tensor& p : net.parameters()) REQUIRE(!p.grad().defined());
}

TEST_CASE("Module state_dict round trip reproduces outputs; bad states are rejected whole", "[layers][module]") {
  Rng rng_a(5), rng_b(6);
  Net a(3, rng_a), b(3, rng_b);
  static_cast<Block*>(a.blocks->children()[1].second.get())->norm1->running_mean.fill_(0.25f);
  Tensor x = rand_tensor({2, 4, 3}, 7, false);
  REQUIRE(a.forward(x).to_vector() != b.forward(x).to_vector());
  auto state = a.state_dict();
  REQUIRE(state.size() == 9);  // 7 parameters + 2 buffers
  b.load_state_dict(state);
  REQUIRE(a.forward(x).to_vector() == b.forward(x).to_vector());
  REQUIRE(b.state_dict().at("blocks.1.norm1.running_mean").to_vector() == std::vector<float>(3, 0.25f));
  // Loading copies: b keeps its own tensors.
  REQUIRE(!b.state_dict().at("scale").same(state.at("scale")));

  // Shape mismatch: ShapeError naming the key and both shapes; nothing is loaded.
  Rng rng_c(8);
  Net c(3, rng_c);
  const auto before = c.state_dict().at("blocks.0.fc.weight").to_vector();
  auto bad = state;
  bad["blocks.1.fc.bias"] = Tensor::zeros({4});
  REQUIRE_THROWS_MENTIONING(c.load_state_dict(bad), "blocks.1.fc.bias", "(4,)", "(3,)");
  REQUIRE(c.state_dict().at("blocks.0.fc.weight").to_vector() == before);
  // Missing and unexpected keys (with a suggestion) in strict mode; non-strict skips them.
  auto missing = state;
  missing.erase("scale");
  REQUIRE_THROWS_MENTIONING(c.load_state_dict(missing), "missing", "scale");
  auto extra = state;
  extra["blocks.0.fc.weigth"] = Tensor::zeros({3, 3});
  REQUIRE_THROWS_MENTIONING(c.load_state_dict(extra), "unexpected", "blocks.0.fc.weigth",
                            "blocks.0.fc.weight");
  c.load_state_dict(missing, /*strict=*/false);
  REQUIRE(c.state_dict().at("blocks.0.fc.weight").to_vector() ==
          a.state_dict().at("blocks.0.fc.weight").to_vector());
}

TEST_CASE("Module print shows the tree with names and extra_repr", "[layers][module]") {
  Rng rng(9);
  Net net(2, rng);
  const std::string expected =
      "Net(\n"
      "  (blocks): Sequential(\n"
      "    (0): Block(\n"
      "      (norm1): FakeNorm(C=2)\n"
      "      (fc): Linear(in_features=2, out_features=2, bias=true)\n"
      "    )\n"
      "    (1): Block(\n"
      "      (norm1): FakeNorm(C=2)\n"
      "      (fc): Linear(in_features=2, out_features=2, bias=true)\n"
      "    )\n"
      "  )\n"
      ")";
  REQUIRE(net.print() == expected);
}

TEST_CASE("Module registration guards: names, duplicates, non-leaf, cycles, tied weights", "[layers][module]") {
  FakeNorm m(2);
  REQUIRE_THROWS_MENTIONING(m.register_parameter("weight", Tensor::ones({2})), "weight", "twice");
  REQUIRE_THROWS_MENTIONING(m.register_buffer("weight", Tensor::ones({2})), "twice");
  REQUIRE_THROWS_MENTIONING(m.register_parameter("a.b", Tensor::ones({2})), "a.b", "'.'");
  REQUIRE_THROWS_MENTIONING(m.register_parameter("", Tensor::ones({2})), "non-empty");
  Tensor leaf = Tensor::ones({2}).requires_grad_();
  REQUIRE_THROWS_MENTIONING(m.register_parameter("w2", leaf * 2.0f), "leaf");
  auto seq = std::make_shared<Sequential>();
  auto inner = std::make_shared<Sequential>();
  seq->push_back(inner);
  REQUIRE_THROWS_MENTIONING(inner->push_back(seq), "contains its parent");
  // The same tensor registered in two modules is one parameter (listed once).
  auto n1 = std::make_shared<FakeNorm>(2), n2 = std::make_shared<FakeNorm>(2);
  n2->register_parameter("shared", n1->weight);
  Sequential tied({n1, n2});
  REQUIRE(names_of(tied.named_parameters()) == std::vector<std::string>{"0.weight", "1.weight"});
  REQUIRE(tied.num_parameters() == 4);
}

TEST_CASE("Module reset_parameters(rng) re-initialises the whole tree deterministically", "[layers][module]") {
  Rng rng(10);
  Net net(3, rng);
  auto* block1 = static_cast<Block*>(net.blocks->children()[1].second.get());
  block1->norm1->weight.fill_(7.0f);  // FakeNorm has no reset: stays as set
  auto snapshot = [&] {
    std::vector<std::vector<float>> out;
    for (auto& [_, t] : net.named_parameters()) out.push_back(t.to_vector());
    return out;
  };
  const auto before = snapshot();
  Rng r1(99);
  net.reset_parameters(r1);
  const auto first = snapshot();
  REQUIRE(first != before);
  REQUIRE(block1->norm1->weight.to_vector() == std::vector<float>(3, 7.0f));
  Rng r2(99);
  net.reset_parameters(r2);
  REQUIRE(snapshot() == first);  // same seed, same init
}
