// Sequential: chaining, index names, masks handed to each child, gradients through the chain.
#include "helpers.h"
#include "layers/linear.h"
#include "layers/sequential.h"

using namespace nl;
using nl::test::rand_tensor;

namespace {
// Records the mask it is given and multiplies its input by 2 (a probe for forward_masked).
class MaskProbe : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x * 2.0f; }
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override {
    seen = mask;
    return forward(x);
  }
  std::string type_name() const override { return "MaskProbe"; }
  Tensor seen;
};
}  // namespace

TEST_CASE("Sequential chains its layers in order and names them 0, 1, ...", "[layers]") {
  Rng rng(1);
  auto l0 = std::make_shared<Linear>(LinearOptions{4, 3, true}, rng);
  auto l1 = std::make_shared<Linear>(LinearOptions{3, 2, false}, rng);
  Sequential seq({l0, l1});
  Tensor x = rand_tensor({5, 4}, 2, false);
  REQUIRE(seq.forward(x).to_vector() == l1->forward(l0->forward(x)).to_vector());
  std::vector<std::string> names;
  for (auto& [n, _] : seq.named_parameters()) names.push_back(n);
  REQUIRE(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight"});
  REQUIRE(seq.size() == 2);
  REQUIRE(seq[1] == l1);
  REQUIRE(seq.output_features(4) == 2);
  REQUIRE(Sequential().forward(x).same(x));  // empty = identity
}

TEST_CASE("Sequential gradients through two Linear layers on (N,C) and (B,T,C)", "[layers][gradcheck]") {
  Rng rng(3);
  auto l0 = std::make_shared<Linear>(LinearOptions{4, 3, true}, rng);
  auto l1 = std::make_shared<Linear>(LinearOptions{3, 2, true}, rng);
  Sequential seq({l0, l1});
  auto f = [&](const std::vector<Tensor>& in) { return seq.forward(in[0]); };
  for (const Shape& s : {Shape{3, 4}, Shape{2, 3, 4}})
    REQUIRE_GRADCHECK(f, std::vector<Tensor>{rand_tensor(s, 4), l0->weight, l0->bias, l1->weight,
                                             l1->bias});
}

TEST_CASE("Sequential forward_masked hands the mask to every child", "[layers]") {
  auto a = std::make_shared<MaskProbe>(), b = std::make_shared<MaskProbe>();
  Sequential seq({a, b});
  Tensor mask = Tensor::from_vector({1, 1, 0}, {1, 3});
  Tensor y = seq.forward_masked(Tensor::ones({1, 3, 2}), mask);
  REQUIRE(a->seen.same(mask));
  REQUIRE(b->seen.same(mask));
  REQUIRE(y.to_vector() == std::vector<float>(6, 4.0f));
}
