#include "train/bench_suite.h"

#include <algorithm>
#include <cstdio>

#include "core/blas.h"
#include "core/core_round_trip.h"
#include "core/gemm_recorder.h"
#include "core/normlab.h"
#include "core/register_gemm.h"
#include "core/storage.h"
#include "core/stream.h"
#include "layers/kernels/batchnorm.h"
#include "layers/kernels/layernorm.h"
#include "layers/rmsnorm.h"
#include "train/workloads.h"

namespace nl {

NormBenchInputs::NormBenchInputs(int64_t R, int64_t C) {
  Rng rng(0);
  x = Tensor::normal({R, C}, 0.0f, 1.0f, rng).requires_grad_();
  dy = Tensor::normal({R, C}, 0.0f, 1.0f, rng);
  w = Tensor::uniform({C}, 0.5f, 1.5f, rng).requires_grad_();
  b = Tensor::uniform({C}, -0.5f, 0.5f, rng).requires_grad_();
  running_mean = Tensor::zeros({C});
  running_var = Tensor::ones({C});
}

Tensor NormBenchInputs::forward(const std::string& op) {
  const int64_t C = x.shape().back();
  if (op == "layernorm") return layer_norm(x, {C}, w, b);
  if (op == "batchnorm") return batch_norm(x, Tensor(), w, b, running_mean, running_var, true);
  if (op == "rmsnorm") return rms_norm(x, w);
  throw ValueError("bench norms: unknown op '" + op + "' (layernorm, batchnorm, rmsnorm)");
}

namespace {

constexpr double kMinRepMs = 20.0;  // one timed repetition lasts at least this long

std::string shape_name(std::initializer_list<int64_t> dims) {
  std::string s;
  for (int64_t d : dims) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

// One norm through the framework (autograd recording on, like the PyTorch peer):
// forward only, or forward + backward into fresh gradients.
json run_norm(const std::string& name, const std::string& op, bool backward, int64_t R, int64_t C,
              int reps) {
  NormBenchInputs in(R, C);
  Tensor &x = in.x, &dy = in.dy, &w = in.w, &b = in.b;
  auto fwd = [&]() -> Tensor { return in.forward(op); };
  const TimingResult t = backward ? time_calls([&] {
    x.zero_grad();  // fresh gradients each call, like torch.autograd.grad
    w.zero_grad();
    if (op != "rmsnorm") b.zero_grad();
    fwd().backward(dy);
  }, reps, kMinRepMs, 3)
                                  : time_calls([&] { Tensor y = fwd(); }, reps, kMinRepMs, 3);
  json r = bench_record(name, t);
  // Minimal bytes (the anchors' convention): fwd reads x, writes y; fwd+bwd also reads x, dy
  // and writes dx.
  const double bytes = (backward ? 5.0 : 2.0) * static_cast<double>(R) * C * 4;
  r["gbps"] = bytes / (t.median_ms * 1e6);
  return r;
}

json run_matmul(const std::string& name, bool raw, int64_t M, int64_t N, int64_t K, int reps) {
  Rng rng(0);
  Tensor a = Tensor::uniform({M, K}, -1, 1, rng), b = Tensor::uniform({K, N}, -1, 1, rng);
  Tensor c = Tensor::empty({M, N});
  // raw: OpenBLAS's sgemm as normlab calls it (the pool's split at 2+ threads included), without
  // normlab's register kernel (core/register_gemm.h), which takes some of these shapes in
  // matmul: the rate every floor of `bench-compare` is measured against, as before #72.
  const RegisterGemmScope kernel(!raw && register_gemm_on());
  const TimingResult t =
      raw ? time_calls([&] { sgemm(false, false, M, N, K, 1.0f, a.data(), b.data(), 0.0f, c.data()); },
                       reps, kMinRepMs, 3)
          : time_calls([&] { Tensor out = matmul(a, b); }, reps, kMinRepMs, 3);
  json r = bench_record(name, t);
  r["gflops"] = 2.0 * M * N * K / (t.median_ms * 1e6);
  return r;
}

json run_step(const std::string& name, const ReferenceWorkload& w, int reps) {
  WorkloadRunner runner(w);
  const TimingResult t = time_calls([&] { runner.step(); }, reps, kMinRepMs, 3);
  json r = bench_record(name, t);
  r["gflops"] = w.gflop / (t.median_ms * 1e-3);
  r["matmul_gflop"] = w.gflop;
  r["rss_mb"] = resident_mb();
  r["allocator_cached_mb"] = static_cast<double>(allocator_stats().cached_bytes) / (1 << 20);
  return r;
}

// The step's BLAS floor: one step's products (recorded after warm-up) replayed alone, at 1
// thread whatever --threads says (a pool worker's products would escape the recorder). The
// step itself is timed in alternation with the replay, in this process, so `step_ms` - median
// is the framework's own work (elementwise ops, norms, softmax, optimizer, bookkeeping) without
// the drift of a shared host between two separate runs.
json run_blas_floor(const std::string& name, const ReferenceWorkload& w, int reps) {
  std::vector<GemmShape> calls;
  const ThreadCountGuard one_thread(1);  // --threads comes back when the case ends
  WorkloadRunner runner(w);
  for (int i = 0; i < 3; ++i) runner.step();  // warm-up, as time_calls does for step/NAME
  {
    GemmRecorder recorder;
    runner.step();
    calls = recorder.calls();
  }
  GemmReplay products(std::move(calls));
  const auto [step, blas] =
      time_alternating([&] { runner.step(); }, [&] { products.replay(); }, reps, kMinRepMs, 3);
  json r = bench_record(name, blas);
  r["threads"] = 1;
  r["blas_calls"] = products.size();
  r["gflops"] = products.gflop() / (blas.median_ms * 1e-3);
  r["step_ms"] = step.median_ms;
  r["step_min_ms"] = step.min_ms;
  return r;
}

}  // namespace

json bench_record(const std::string& name, const TimingResult& t) {
  return json{{"bench", name},          {"threads", num_threads()}, {"median_ms", t.median_ms},
              {"min_ms", t.min_ms},     {"cpu_ms", t.cpu_ms},       {"minflt_per_call", t.minflt},
              {"calls", t.inner * t.reps}, {"inline_jobs", t.inline_jobs}};
}

std::vector<BenchCase> bench_suite() {
  std::vector<BenchCase> cases;
  const std::vector<std::pair<int64_t, int64_t>> norm_shapes = {
      {8192, 256}, {8192, 1024}, {2048, 128}, {512, 64}};
  struct NormMode {
    const char* op;
    bool backward;
  };
  const NormMode modes[] = {{"layernorm", false}, {"layernorm", true}, {"batchnorm", false},
                            {"batchnorm", true},  {"rmsnorm", true}};
  // Structured bindings are captured by init-capture below: clang before 16 cannot capture them.
  for (const NormMode& m : modes)
    for (auto [R, C] : norm_shapes) {
      const std::string name = std::string(m.op) + (m.backward ? "_fwdbwd/" : "_fwd/") +
                               shape_name({R, C});
      cases.push_back({name, [=, R = R, C = C, op = std::string(m.op), bwd = m.backward](int reps) {
                         return run_norm(name, op, bwd, R, C, reps);
                       }});
    }
  // The anchors' sgemm shapes: square, and the (2048 tokens × 128/512 features) Linear shapes.
  const std::vector<std::array<int64_t, 3>> mm_shapes = {
      {256, 256, 256}, {512, 512, 512}, {2048, 128, 128}, {2048, 512, 128}, {2048, 128, 512}};
  for (auto [M, N, K] : mm_shapes)
    for (bool raw : {false, true}) {
      const std::string name = std::string(raw ? "sgemm/" : "matmul/") + shape_name({M, N, K});
      cases.push_back({name, [=, M = M, N = N, K = K](int reps) { return run_matmul(name, raw, M, N, K, reps); }});
    }
  const std::pair<const char*, int64_t> stream_sizes[] = {
      {"128K", int64_t{128} << 10}, {"8M", int64_t{8} << 20}, {"128M", int64_t{128} << 20}};
  for (auto [tag, bytes] : stream_sizes) {
    const std::string name = std::string("stream_triad/") + tag;
    cases.push_back({name, [=, bytes = bytes](int reps) {
                       const TimingResult t = stream_triad(bytes, reps, kMinRepMs);
                       json r = bench_record(name, t);
                       r["gbps"] = 3.0 * static_cast<double>(bytes) / (t.median_ms * 1e6);
                       r["bytes_per_array"] = bytes;
                       return r;
                     }});
  }
  // How far apart the first two CPUs are at this moment (core/core_round_trip.h): the 2-thread
  // rows' condition, as the triad is the norms' ceiling. Per round trip, in ms and in ns.
  cases.push_back({"core_round_trip", [](int reps) {
                     json r{{"bench", "core_round_trip"}, {"threads", num_threads()}};
                     const auto trip = core_round_trip(20000, std::max(3, reps));
                     if (!trip) {
                       r["cpus"] = json::array();  // fewer than two CPUs: nothing to measure
                       return r;
                     }
                     r["cpus"] = {trip->cpu_a, trip->cpu_b};
                     r["median_ns"] = trip->median_ns;
                     r["min_ns"] = trip->min_ns;
                     r["median_ms"] = trip->median_ns * 1e-6;
                     r["min_ms"] = trip->min_ns * 1e-6;
                     return r;
                   }});
  for (const ReferenceWorkload& w : reference_workloads()) {
    const std::string name = "step/" + w.name;
    cases.push_back({name, [=](int reps) { return run_step(name, w, reps); }});
  }
  for (const ReferenceWorkload& w : reference_workloads()) {
    const std::string name = "blas/" + w.name;
    cases.push_back({name, [=](int reps) { return run_blas_floor(name, w, reps); }});
  }
  return cases;
}

}  // namespace nl
