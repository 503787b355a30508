// The `normlab bench --json` suite: every name the speed issue asks for is there, and a case
// runs and reports the record fields tools read.
#include <set>

#include "helpers.h"
#include "train/bench_suite.h"
#include "train/workloads.h"

TEST_CASE("bench suite names cover norms, matmul, stream and every workload", "[train][bench]") {
  std::set<std::string> names;
  for (const nl::BenchCase& c : nl::bench_suite()) REQUIRE(names.insert(c.name).second);
  for (const char* shape : {"8192x256", "8192x1024", "2048x128", "512x64"}) {
    for (const char* op : {"layernorm_fwd/", "layernorm_fwdbwd/", "batchnorm_fwd/",
                           "batchnorm_fwdbwd/", "rmsnorm_fwdbwd/"})
      REQUIRE(names.count(std::string(op) + shape) == 1);
  }
  for (const char* s : {"128K", "8M", "128M"}) REQUIRE(names.count(std::string("stream_triad/") + s));
  REQUIRE(names.count("core_round_trip") == 1);
  int matmuls = 0;
  for (const std::string& n : names)
    if (n.rfind("matmul/", 0) == 0) {
      ++matmuls;
      REQUIRE(names.count("sgemm/" + n.substr(7)) == 1);  // raw sgemm on the same shape
    }
  REQUIRE(matmuls >= 3);
  const auto workloads = nl::reference_workloads();
  REQUIRE(workloads.size() == 12);  // WORKLOADS.md's 11, then lm_ln_t256
  REQUIRE(workloads.back().name == "lm_ln_t256");
  REQUIRE(workloads.back().B * workloads.back().T == 2048);
  for (const auto& w : workloads) {
    REQUIRE(names.count("step/" + w.name) == 1);
    REQUIRE(names.count("blas/" + w.name) == 1);  // the step's BLAS floor
  }
}

TEST_CASE("a bench case reports median, min and a rate", "[train][bench]") {
  for (const nl::BenchCase& c : nl::bench_suite()) {
    if (c.name != "layernorm_fwdbwd/512x64" && c.name != "step/mlp_ln_b4") continue;
    const nl::json r = c.run(2);
    REQUIRE(r["bench"] == c.name);
    REQUIRE(r["threads"].get<int>() >= 1);
    REQUIRE(r["min_ms"].get<double>() > 0.0);
    REQUIRE(r["min_ms"].get<double>() <= r["median_ms"].get<double>());
    REQUIRE((r.contains("gbps") || r.contains("gflops")));
    REQUIRE(r["inline_jobs"].get<int64_t>() >= 0);  // > 0 only where the threads took turns
  }
}

TEST_CASE("a step's BLAS floor replays its products at 1 thread", "[train][bench]") {
  int found = 0;
  for (const nl::BenchCase& c : nl::bench_suite()) {
    if (c.name != "blas/mlp_ln_b4") continue;
    ++found;
    const nl::json r = c.run(2);
    REQUIRE(r["bench"] == c.name);
    REQUIRE(r["threads"].get<int>() == 1);
    // mlp_ln_b4: two Linear layers and the head; forward, dx (not for the first) and dW each.
    REQUIRE(r["blas_calls"].get<int>() == 8);
    REQUIRE(r["min_ms"].get<double>() > 0.0);
    REQUIRE(r["gflops"].get<double>() > 0.0);
    REQUIRE(r["step_ms"].get<double>() > 0.0);  // the step, timed in alternation with the replay
  }
  REQUIRE(found == 1);
}
