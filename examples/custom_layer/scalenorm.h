// ScaleNorm (Nguyen & Salazar 2019, "Transformers without Tears"): y = g · x / ‖x‖ over the
// last axis, with one learned scalar g (initialised to √C). normlab does not ship it; this
// file shows how a user adds a layer from outside the library.
#pragma once
#include "core/config_reader.h"
#include "layers/module.h"
#include "layers/registry.h"

namespace user {

struct ScaleNormOptions {
  int64_t features = 0;  // C, only for the init of g
  float eps = 1e-5f;     // ‖x‖ is clamped to at least eps (rows of zeros stay finite)
};

// The fused op: x (..., C), g (1) -> (..., C). Forward and backward are hand-written.
nl::Tensor scalenorm(const nl::Tensor& x, const nl::Tensor& g, float eps);

class ScaleNorm : public nl::Module {
 public:
  explicit ScaleNorm(const ScaleNormOptions& options);
  nl::Tensor forward(const nl::Tensor& x) override { return scalenorm(x, g, options_.eps); }
  void reset_parameters() override;  // g = √C
  using nl::Module::reset_parameters;
  std::string type_name() const override { return "ScaleNorm"; }
  std::string extra_repr() const override;

  nl::Tensor g;  // (1)

 private:
  ScaleNormOptions options_;
};

// Factory for the layer registry. Keys: eps (1e-5).
nl::ModulePtr make_scalenorm(nl::ConfigReader& cfg, const nl::LayerArgs& args);
// Adds "scalenorm" to normlab's layer registry (call once, before building configs).
void register_scalenorm();

}  // namespace user
