// Checks the out-of-tree ScaleNorm with normlab's own tools: gradcheck of the fused backward
// on 2-D and 3-D inputs, agreement with the same function composed from normlab ops, and
// construction through the layer registry from JSON. Exits non-zero on any failure.
#include <cmath>
#include <cstdio>

#include "core/normlab.h"
#include "layers/registry.h"
#include "scalenorm.h"

namespace {
int failures = 0;
void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}
}  // namespace

int main() {
  using namespace nl;
  user::register_scalenorm();

  Rng rng(42);
  auto layer = make_layer(json{{"type", "scalenorm"}, {"eps", 1e-5}}, LayerArgs{8, &rng}, "model.norm");
  auto* sn = dynamic_cast<user::ScaleNorm*>(layer.get());
  check(sn != nullptr && layer->print() == "ScaleNorm(features=8, eps=1e-05)", "registry builds " + layer->print());
  check(sn && std::abs(sn->g.item() - std::sqrt(8.0f)) < 1e-6f, "g starts at sqrt(C)");

  for (const Shape& s : {Shape{4, 8}, Shape{2, 3, 8}}) {
    Tensor x = Tensor::uniform(s, -1.0f, 1.0f, rng).requires_grad_();
    auto f = [&](const std::vector<Tensor>& in) { return layer->forward(in[0]); };
    const GradcheckResult r = gradcheck(f, {x, sn->g});
    check(r.ok, "gradcheck x and g on " + shape_str(s) + ": " + r.message);

    // The same function from primitive ops (autograd derives its backward).
    Tensor composed = x * (sn->g / sqrt(sum(x * x, -1, true)));
    Tensor fused = layer->forward(x);
    double worst = 0.0;
    for (int64_t i = 0; i < fused.numel(); ++i)
      worst = std::max(worst, double(std::abs(fused.data()[i] - composed.data()[i])));
    check(worst < 1e-5, "fused forward matches the composed one (max diff " + std::to_string(worst) + ")");
  }

  bool threw = false;
  try {
    make_layer(json{{"type", "scalenrom"}}, LayerArgs{8, &rng}, "model.norm");
  } catch (const ConfigError& e) {
    threw = std::string(e.what()).find("did you mean 'scalenorm'") != std::string::npos;
  }
  check(threw, "a typo in the type name suggests 'scalenorm'");

  std::printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
