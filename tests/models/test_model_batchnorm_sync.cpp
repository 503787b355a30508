// model.batchnorm_sync (issue 10): every model that can hold BatchNorm passes the key to every
// BatchNorm it builds (hidden, input, RNN cell and transformer norms); default false.
#include "helpers.h"
#include "layers/batchnorm.h"
#include "model_test_util.h"

using namespace nl;
using namespace nl::test;

namespace {

// (BatchNorms in the model, how many of them sync).
std::pair<int, int> count_bn(const Model& m) {
  int all = 0, sync = 0;
  for (const auto& [name, mod] : m.named_modules())
    if (const auto* bn = dynamic_cast<const BatchNorm*>(mod)) {
      ++all;
      sync += bn->options().sync;
    }
  return {all, sync};
}

}  // namespace

TEST_CASE("model.batchnorm_sync reaches every BatchNorm of every model", "[models][syncbn]") {
  const json bn = {{"type", "batchnorm"}};
  struct Case {
    json spec;
    DatasetInfo info;
    int expect;  // BatchNorm layers the model has
  };
  const std::vector<Case> cases{
      {{{"type", "mlp"}, {"hidden", {4, 4}}, {"input_norm", "batchnorm"}, {"norm", bn}}, flat_info(), 3},
      {{{"type", "rnn_classifier"}, {"hidden_size", 4}, {"norm", {{"type", "batchnorm_step"}, {"steps", 3}}}},
       token_class_info(), 1},
      {{{"type", "rnn_regressor"}, {"hidden_size", 4}, {"norm", bn}}, adding_info(), 1},
      {{{"type", "transformer_classifier"}, {"d_model", 8}, {"heads", 2}, {"layers", 1}, {"norm", bn}},
       token_class_info(), 3},
      {{{"type", "transformer_lm"}, {"d_model", 8}, {"heads", 2}, {"layers", 2}, {"norm", bn}}, lm_info(), 5},
  };
  for (const Case& c : cases) {
    INFO(c.spec.dump());
    CHECK(count_bn(*build_model(c.spec, c.info)) == std::pair<int, int>{c.expect, 0});  // default
    json on = c.spec;
    on["batchnorm_sync"] = true;
    CHECK(count_bn(*build_model(on, c.info)) == std::pair<int, int>{c.expect, c.expect});
  }
  REQUIRE_THROWS_MENTIONING(
      build_model(json{{"type", "mlp"}, {"batchnorm_sync", "yes"}}, flat_info()), "model.batchnorm_sync");
}
