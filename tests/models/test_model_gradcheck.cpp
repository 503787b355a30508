// End-to-end gradient checks of tiny models: every parameter's gradient through the whole
// model (input layer, norms, RNN / blocks, pooling, head) against central differences.
#include "helpers.h"
#include "models/model_test_util.h"

using namespace nl;
using namespace nl::test;

namespace {

void gradcheck_model(const std::shared_ptr<Model>& m, const Batch& batch, GradcheckOptions opt = {}) {
  std::vector<Tensor> params = m->parameters();
  REQUIRE(!params.empty());
  REQUIRE_GRADCHECK([&](const std::vector<Tensor>&) { return m->forward_batch(batch); }, params, opt);
}

}  // namespace

TEST_CASE("mlp gradcheck end to end (none, layernorm, batchnorm)", "[gradcheck][models]") {
  for (const char* norm : {"none", "layernorm", "batchnorm"}) {
    INFO(norm);
    auto m = build_model(json{{"type", "mlp"}, {"hidden", {5, 4}}, {"activation", "tanh"},
                              {"norm", {{"type", norm}}}},
                         flat_info(3, 3));
    Batch b;
    b.inputs = rand_tensor({6, 3}, 2, false);
    gradcheck_model(m, b);
  }
}

TEST_CASE("rnn_classifier gradcheck end to end with padding (layernorm, masked batchnorm)",
          "[gradcheck][models]") {
  for (const char* norm : {"none", "layernorm", "batchnorm"})
    for (const char* pool : {"last", "mean"}) {
      INFO(norm << " " << pool);
      // Lengths {4,4,3}: every step keeps >= 2 valid rows, so masked BN uses batch statistics
      // throughout (the running statistics change with every forward call of the gradcheck and
      // would make the numeric side inconsistent); the last step still has a padded row.
      json norm_spec = {{"type", norm}};
      auto m = build_model(json{{"type", "rnn_classifier"}, {"hidden_size", 4}, {"embed_dim", 3},
                                {"pool", pool}, {"norm", norm_spec}},
                           token_class_info(5, 3));
      gradcheck_model(m, make_seq_batch({4, 4, 3}, 4, 5, 0, 9));
    }
}

TEST_CASE("rnn_regressor gradcheck end to end (batchnorm_step)", "[gradcheck][models]") {
  auto m = build_model(json{{"type", "rnn_regressor"}, {"hidden_size", 4},
                            {"norm", {{"type", "batchnorm_step"}, {"steps", 4}}}},
                       adding_info());
  gradcheck_model(m, make_seq_batch({4, 3, 4}, 4, 0, 2, 5));
}

TEST_CASE("transformer_classifier gradcheck end to end (layernorm pre, batchnorm post)",
          "[gradcheck][models]") {
  for (auto [norm, placement] : {std::pair{"layernorm", "pre"}, std::pair{"batchnorm", "post"}}) {
    INFO(norm << " " << placement);
    auto m = build_model(json{{"type", "transformer_classifier"}, {"d_model", 4}, {"heads", 2},
                              {"layers", 1}, {"ff", 6}, {"placement", placement},
                              {"norm", {{"type", norm}}}},
                         token_class_info(5, 2, 8));
    gradcheck_model(m, make_seq_batch({3, 2}, 3, 5, 0, 4));
  }
}

TEST_CASE("transformer_lm gradcheck end to end", "[gradcheck][models]") {
  auto m = build_model(json{{"type", "transformer_lm"}, {"d_model", 4}, {"heads", 2}, {"layers", 1},
                            {"ff", 6}, {"norm", {{"type", "rmsnorm"}}}},
                       lm_info(5, 8));
  gradcheck_model(m, make_seq_batch({3, 3}, 3, 5, 0, 6));
}
