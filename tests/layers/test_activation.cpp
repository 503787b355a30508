// Activation modules: values at chosen points and gradients through the module (2-D and 3-D).
#include <cmath>

#include "helpers.h"
#include "layers/activation.h"

using namespace nl;
using nl::test::rand_tensor;

TEST_CASE("ReLU GELU Tanh Sigmoid modules give the analytic values", "[layers]") {
  Tensor x = Tensor::from_vector({-2.0f, -0.5f, 0.0f, 1.0f}, {2, 2});
  std::vector<float> relu_v, gelu_v, tanh_v, sig_v;
  for (float v : x.to_vector()) {
    relu_v.push_back(v > 0 ? v : 0.0f);
    gelu_v.push_back(static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))));
    tanh_v.push_back(static_cast<float>(std::tanh(double(v))));
    sig_v.push_back(static_cast<float>(1.0 / (1.0 + std::exp(-double(v)))));
  }
  // 1e-6: float evaluation of the same closed forms.
  REQUIRE(nl::test::allclose(ReLU().forward(x), Tensor::from_vector(relu_v, {2, 2}), 0, 0));
  REQUIRE(nl::test::allclose(GELU().forward(x), Tensor::from_vector(gelu_v, {2, 2}), 1e-6, 1e-6));
  REQUIRE(nl::test::allclose(Tanh().forward(x), Tensor::from_vector(tanh_v, {2, 2}), 1e-6, 1e-6));
  REQUIRE(nl::test::allclose(Sigmoid().forward(x), Tensor::from_vector(sig_v, {2, 2}), 1e-6, 1e-6));
  REQUIRE(ReLU().print() == "ReLU()");
  REQUIRE(ReLU().named_parameters().empty());
}

TEST_CASE("ReLU GELU Tanh Sigmoid module gradients on (N,C) and (B,T,C)", "[layers][gradcheck]") {
  std::vector<ModulePtr> acts = {std::make_shared<ReLU>(), std::make_shared<GELU>(),
                                 std::make_shared<Tanh>(), std::make_shared<Sigmoid>()};
  for (const ModulePtr& m : acts) {
    INFO(m->type_name());
    auto f = [&](const std::vector<Tensor>& in) { return m->forward(in[0]); };
    for (const Shape& s : {Shape{4, 3}, Shape{2, 3, 5}}) {
      // ReLU: values kept >= 0.05 away from the kink so central differences (eps 1e-2) are exact.
      Tensor x = rand_tensor(s, 11, false);
      for (int64_t i = 0; i < x.numel(); ++i)
        if (std::abs(x.data()[i]) < 0.05f) x.data()[i] += 0.1f;
      x.requires_grad_();
      REQUIRE_GRADCHECK(f, std::vector<Tensor>{x});
    }
  }
}
