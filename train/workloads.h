// The reference workloads of ../shared/anchors/WORKLOADS.md (the speed comparison with
// PyTorch), built from normlab's own models with the shapes of the anchors' toy_models.py:
// a name, the model config, a fixed random batch, and one training step
// (forward + cross-entropy + backward + Adam(lr 1e-3) + zero_grad) to time.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "data/batch.h"
#include "core/config_reader.h"
#include "models/model.h"
#include "optim/adam.h"

namespace nl {

struct ReferenceWorkload {
  std::string name;        // as in WORKLOADS.md
  std::string torch_name;  // as in the anchors' toy_models.py (lm_ln_t256: not there)
  json model;              // the "model" config section
  DatasetInfo info;
  int64_t B = 0, T = 0;    // batch, sequence length (T = 0: flat inputs)
  double gflop = 0;        // matmul GFLOP per training step (3 x forward but no input-data gradient; causal mask ignored)
};

// Every workload of WORKLOADS.md, in its order, then normlab's own lm_ln_t256 (lm_ln at T = 256).
std::vector<ReferenceWorkload> reference_workloads();

// Random inputs and targets of the workload's shapes (fixed length, no padding).
Batch make_workload_batch(const ReferenceWorkload& w, Rng& rng);

// A built model, its Adam optimiser and one fixed batch: step() runs one training step.
class WorkloadRunner {
 public:
  explicit WorkloadRunner(const ReferenceWorkload& w, uint64_t seed = 1234);
  void step();
  Model& model() { return *model_; }

 private:
  std::shared_ptr<Model> model_;
  std::unique_ptr<Adam> opt_;
  Batch batch_;
};

}  // namespace nl
