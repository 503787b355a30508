// Resource errors a user can run into, through the real CLI: a run folder that cannot be
// created, a disk that fills up mid-run (RLIMIT_FSIZE: tests run as root, so permissions
// would not stop them), a model larger than the machine's memory, and a checkpoint from a
// different model config. Each is one line on stderr naming the path or key, a non-zero exit
// code and never a signal; a full disk keeps the last good checkpoint.
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cli_run.h"
#include "core/memory_guard.h"
#include "helpers.h"
#include "train/checkpoint.h"
#include "train_fixtures.h"

using namespace nl;
using namespace nl::test;
namespace fs = std::filesystem;

namespace {

json small_run(int64_t steps) {
  json cfg = json::parse(R"({
    "seed": 2,
    "data": {"type": "adding", "train_size": 128, "val_size": 32, "test_size": 32,
             "min_length": 5, "max_length": 10},
    "model": {"type": "rnn_regressor", "hidden_size": 8},
    "train": {"batch_size": 16, "log_interval": 1, "eval_interval": 0, "checkpoint_interval": 5}
  })");
  cfg["train"]["steps"] = steps;
  return cfg;
}

void expect_one_line(const CliResult& r, int code, const std::vector<std::string>& pieces) {
  expect_one_line_error(r, code, pieces);
}

}  // namespace

TEST_CASE("resource errors: a run folder under a regular file is one line naming the path", "[train][cli][resource]") {
  const fs::path dir = fresh_dir("res_unwritable");
  fs::create_directories(dir);
  std::ofstream(dir / "cfg.json") << small_run(10).dump();
  std::ofstream(dir / "file") << "not a folder";
  const fs::path out = dir / "file" / "run";
  expect_one_line(run_normlab({"train", (dir / "cfg.json").string(), "--out", out.string(), "--quiet"}), 1,
                  {(dir / "file").string()});
  fs::remove_all(dir);
}

TEST_CASE("resource errors: a full disk mid-run names the file and keeps the last checkpoint", "[train][cli][resource]") {
  const fs::path dir = fresh_dir("res_full");
  fs::create_directories(dir);
  const fs::path cfg = dir / "cfg.json";
  std::ofstream(cfg) << small_run(400).dump();
  // The checkpoint's size, from a short unlimited run of the same model.
  const fs::path probe = dir / "probe";
  REQUIRE(run_normlab({"--threads", "1", "train", cfg.string(), "--out", probe.string(), "--quiet",
                       "--set", "train.steps=5"}).exit_code == 0);
  const auto ck_size = fs::file_size(probe / "checkpoint.safetensors");
  // Files may grow to the checkpoint's size plus a little: checkpoints fit, metrics.jsonl
  // (one record per step) outgrows the limit after a few dozen steps.
  const rlim_t limit = ck_size + 4096;
  const fs::path run = dir / "run";
  const CliResult r = run_normlab({"--threads", "1", "train", cfg.string(), "--out", run.string(), "--quiet"},
                                  [limit] {
                                    struct rlimit rl = {limit, limit};
                                    setrlimit(RLIMIT_FSIZE, &rl);
                                  });
  expect_one_line(r, 1, {run.string(), "File too large"});
  const Checkpoint ck = load_checkpoint((run / "checkpoint.safetensors").string());
  CHECK(ck.step > 0);
  CHECK(ck.step < 400);
  fs::remove_all(dir);
}

TEST_CASE("resource errors: a model larger than memory is refused naming the key and size", "[train][cli][resource]") {
  REQUIRE(physical_memory_bytes() > 0);
  const fs::path dir = fresh_dir("res_memory");
  fs::create_directories(dir);
  std::ofstream(dir / "cfg.json") << small_run(10).dump();
  // An MLP on the adding problem's flattened sequences (20 inputs) with 10^11 hidden units:
  // its first weight alone is 2 x 10^12 floats (7.3 TiB).
  expect_one_line(run_normlab({"config", "--check", (dir / "cfg.json").string(), "--set", "model={}", "--set",
                               "model.type=mlp", "--set", "model.hidden=[100000000000]"}),
                  2, {"'model.hidden' = 100000000000", "TiB", "memory"});
  fs::remove_all(dir);
}

TEST_CASE("resource errors: a model built of many layers is refused before it fills memory", "[train][resource]") {
  // The budget adds up every buffer of the model: 4 x 400 MiB pass a 1 GiB budget only 2 times.
  MemoryBudget budget(1u << 30);
  REQUIRE_NOTHROW(check_allocation(400u << 20));
  REQUIRE_NOTHROW(check_allocation(400u << 20));
  REQUIRE_THROWS_AS(check_allocation(400u << 20), MemoryError);
  CHECK(budget.used() == (800u << 20));
  {
    MemoryBudget inner(uint64_t{1} << 40);  // an inner budget does not lift the outer one
    REQUIRE_THROWS_AS(check_allocation(400u << 20), MemoryError);
  }
  REQUIRE_THROWS_AS(check_allocation(physical_memory_bytes() + 1), MemoryError);
}

TEST_CASE("resource errors: resuming with a different model config names the tensor and both shapes", "[train][cli][resource]") {
  const fs::path dir = fresh_dir("res_mismatch");
  fs::create_directories(dir);
  const fs::path cfg = dir / "cfg.json";
  std::ofstream(cfg) << small_run(10).dump();
  const fs::path run = dir / "run";
  REQUIRE(run_normlab({"--threads", "1", "train", cfg.string(), "--out", run.string(), "--quiet",
                       "--set", "train.steps=5"}).exit_code == 0);
  const CliResult r = run_normlab({"train", "--resume", run.string(), "--quiet", "--set", "model.hidden_size=12",
                                   "--set", "train.steps=10"});
  expect_one_line(r, 2, {(run / "checkpoint.safetensors").string(), "'rnn.", "(8, ", "(12, ", "shape"});
  fs::remove_all(dir);
}
