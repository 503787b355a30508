// The layer registry: one line per layer type. To add a layer, write its .h/.cpp with a
// factory `ModulePtr make_<name>(ConfigReader&, const LayerArgs&)`, include its header here
// and add one `r.add(...)` line below (see docs/adding-a-layer.md).
#include "layers/registry.h"

#include "layers/activation.h"
#include "layers/attention.h"
#include "layers/batchnorm.h"
#include "layers/dropout.h"
#include "layers/embedding.h"
#include "layers/groupnorm.h"
#include "layers/identity.h"
#include "layers/layernorm.h"
#include "layers/linear.h"
#include "layers/rmsnorm.h"
#include "layers/rnn.h"
#include "layers/sequential.h"
#include "layers/transformer_block.h"

namespace nl {

LayerRegistry& layer_registry() {
  static LayerRegistry* registry = [] {
    auto* r = new LayerRegistry("layer");
    // ---- one line per layer type ----
    r->add("linear", make_linear, "fully connected y = x·Wᵀ + b over the last axis");
    r->add("embedding", make_embedding, "lookup table: token ids -> vectors");
    r->add("dropout", make_dropout, "inverted dropout (identity in eval)");
    r->add("relu", make_relu, "max(x, 0)");
    r->add("gelu", make_gelu, "x·Φ(x) (exact erf form)");
    r->add("tanh", make_tanh, "hyperbolic tangent");
    r->add("sigmoid", make_sigmoid, "logistic sigmoid");
    r->add("sequential", make_sequential, "a chain of layers given in \"layers\"");
    r->add("layernorm", make_layernorm, "LayerNorm over the trailing feature dims (Ba et al. 2016)");
    r->add("batchnorm", make_batchnorm, "BatchNorm over the feature axis, maskable, per-step mode");
    r->add("rmsnorm", make_rmsnorm, "RMSNorm: x / RMS(x) * gamma (Zhang & Sennrich 2019)");
    r->add("groupnorm", make_groupnorm, "GroupNorm over channel groups per position (Wu & He 2018)");
    r->add("none", make_identity, "no normalisation (identity)");
    r->add("rnn", make_rnn, "Elman RNN over (B,T,F) with a mask and an optional cell norm");
    r->add("attention", make_attention, "multi-head self-attention with causal and key-padding masks");
    r->add("transformer_block", make_transformer_block, "transformer block, pre- or post-norm, pluggable norm");
    return r;
  }();
  return *registry;
}

ModulePtr make_layer(const json& spec, const LayerArgs& args, const std::string& path) {
  ConfigReader cfg(spec, path);
  return layer_registry().create(cfg, args, "");
}

}  // namespace nl
