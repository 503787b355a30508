// The thread setting and the pool: every index covered once at 1 and 2 threads, chunking
// that depends only on (n, grain, threads), nested loops, exceptions, NORMLAB_THREADS parsing,
// the OpenBLAS thread count chosen per GEMM, and the default count from the affinity set.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/blas.h"
#include "core/timing.h"
#include "one_cpu.h"
#include "helpers.h"

using namespace nl;

TEST_CASE("set_num_threads sets the count and rejects invalid counts", "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  set_num_threads(1);
  REQUIRE(num_threads() == 1);
  set_num_threads(2);
  REQUIRE(num_threads() == 2);
  REQUIRE_THROWS_AS(set_num_threads(0), ValueError);
  REQUIRE(num_threads() == 2);
}

TEST_CASE("ThreadCountGuard sets a count for its scope and restores it, after a throw too",
          "[threads]") {
  ThreadCountGuard outer;  // whatever happens below, the suite's count comes back
  set_num_threads(1);
  {
    ThreadCountGuard two(2);
    REQUIRE(num_threads() == 2);
  }
  REQUIRE(num_threads() == 1);
  try {
    ThreadCountGuard three(3);
    REQUIRE(num_threads() == 3);
    throw std::runtime_error("leaves the scope by an exception");
  } catch (const std::runtime_error&) {
  }
  REQUIRE(num_threads() == 1);
  {
    ThreadCountGuard keep;  // no count given: saves and restores only
    set_num_threads(2);
  }
  REQUIRE(num_threads() == 1);
}

TEST_CASE("parallel_for covers every index exactly once", "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {0, 1, 7, 1000, 100003}) {
      std::vector<std::atomic<int>> hits(n);
      parallel_for(n, 16, [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) {
        INFO("threads " << threads << " n " << n << " i " << i);
        REQUIRE(hits[i].load() == 1);
      }
    }
  }
}

TEST_CASE("chunking is contiguous, ordered and depends only on n, grain and threads",
          "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  set_num_threads(2);
  REQUIRE(parallel_chunks(0, 10) == 0);
  REQUIRE(parallel_chunks(100, 1000) == 1);  // below the grain: one chunk, run inline
  REQUIRE(parallel_chunks(100000, 10) == 2);
  const int64_t n = 1001;
  const int chunks = parallel_chunks(n, 1);
  std::vector<std::pair<int64_t, int64_t>> seen(chunks, {-1, -1});
  parallel_for_chunks(n, 1, [&](int c, int64_t s, int64_t e) { seen[c] = {s, e}; });
  REQUIRE(seen.front().first == 0);
  REQUIRE(seen.back().second == n);
  for (int c = 0; c < chunks; ++c) {
    REQUIRE(seen[c].first == parallel_chunk_begin(n, chunks, c));
    REQUIRE(seen[c].second == parallel_chunk_begin(n, chunks, c + 1));
    if (c) REQUIRE(seen[c].first == seen[c - 1].second);
  }
  // a small loop runs on the calling thread
  std::thread::id ran_on;
  parallel_for(10, 100, [&](int64_t, int64_t) { ran_on = std::this_thread::get_id(); });
  REQUIRE(ran_on == std::this_thread::get_id());
}

TEST_CASE("a per-chunk reduction is bit-identical across runs", "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  set_num_threads(2);
  std::vector<float> v(200000);
  Rng rng(3);
  for (float& x : v) x = rng.uniform(-1.0f, 1.0f);
  auto reduce = [&] {
    std::vector<float> part(parallel_chunks(v.size(), 1000), 0.0f);
    parallel_for_chunks(v.size(), 1000, [&](int c, int64_t s, int64_t e) {
      float acc = 0.0f;
      for (int64_t i = s; i < e; ++i) acc += v[i];
      part[c] = acc;
    });
    float total = 0.0f;
    for (float p : part) total += p;
    return total;
  };
  const float first = reduce();
  for (int i = 0; i < 20; ++i) REQUIRE(reduce() == first);
}

TEST_CASE("nested parallel_for runs inline, and a chunk's exception reaches the caller",
          "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  set_num_threads(2);
  std::vector<std::atomic<int>> hits(64 * 64);
  parallel_for(64, 1, [&](int64_t s, int64_t e) {
    for (int64_t i = s; i < e; ++i)
      parallel_for(64, 1, [&](int64_t a, int64_t b) {
        for (int64_t j = a; j < b; ++j) hits[i * 64 + j].fetch_add(1);
      });
  });
  for (auto& h : hits) REQUIRE(h.load() == 1);
  // thrown on a worker's chunk and on the caller's chunk
  for (int64_t bad : {0, 999}) {
    REQUIRE_THROWS_AS(parallel_for(1000, 1,
                                   [&](int64_t s, int64_t e) {
                                     if (bad >= s && bad < e) throw std::runtime_error("boom");
                                   }),
                      std::runtime_error);
  }
  // the pool still works afterwards
  std::atomic<int64_t> count{0};
  parallel_for(1000, 1, [&](int64_t s, int64_t e) { count += e - s; });
  REQUIRE(count.load() == 1000);
}

TEST_CASE("NORMLAB_THREADS values are parsed strictly", "[threads][errors]") {
  REQUIRE(parse_thread_count("1") == 1);
  REQUIRE(parse_thread_count("16") == 16);
  for (const char* bad : {"", "0", "-2", "4x", "two", " 3"})
    REQUIRE_THROWS_MENTIONING(parse_thread_count(bad), "NORMLAB_THREADS", "positive integer");
}

TEST_CASE("NORMLAB_GEMM_THREAD_MIN values are parsed strictly", "[threads][errors]") {
  REQUIRE(parse_gemm_thread_min("0") == 0.0);
  REQUIRE(parse_gemm_thread_min("16777216") == 16777216.0);
  for (const char* bad : {"", "-1", "1e6", " 5", "5x", "abc", "1234567890123456"})
    REQUIRE_THROWS_MENTIONING(parse_gemm_thread_min(bad), "NORMLAB_GEMM_THREAD_MIN", "non-negative integer");
}

extern "C" int openblas_thread_timeout(void);  // OpenBLAS: the timeout it read from the env

TEST_CASE("OpenBLAS's worker spin timeout is shortened unless the user set one", "[threads]") {
  num_threads();  // the pool's first use sets it up
  const char* env = std::getenv("OPENBLAS_THREAD_TIMEOUT");
  REQUIRE(env != nullptr);
  // OpenBLAS re-read its environment: it reports the value now in force (4 unless the user
  // had set one before the process started).
  REQUIRE(openblas_thread_timeout() == std::atoi(env));
  // BLAS still works at 2 threads after its threads were restarted.
  ThreadCountGuard guard;  // restores the count when the test ends
  set_num_threads(2);
  Tensor a = Tensor::ones({64, 64}), b = Tensor::ones({64, 64});
  REQUIRE(matmul(a, b).at({5, 7}) == 64.0f);
}

extern "C" int openblas_get_num_threads(void);

// Restores the OpenBLAS-threads threshold when a test ends.
struct GemmThreadMinGuard {
  double saved = threaded_gemm_min_work();
  ~GemmThreadMinGuard() { set_threaded_gemm_min_work(saved); }
};

TEST_CASE("by default every GEMM runs on one OpenBLAS thread; with a threshold, large ones on all",
          "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  GemmThreadMinGuard threshold_guard;
  set_threaded_gemm_min_work(std::numeric_limits<double>::infinity());  // the default
  set_num_threads(2);
  std::vector<float> a(512 * 512, 0.5f), b(512 * 512, 0.25f), c(512 * 512);
  sgemm(false, false, 512, 512, 512, 1.0f, a.data(), b.data(), 0.0f, c.data());
  REQUIRE(openblas_get_num_threads() == 1);  // the pool splits it instead
  REQUIRE(c[7] == 512 * 0.125f);
  // The old rule, 16 M multiply-adds (NORMLAB_GEMM_THREAD_MIN=16777216).
  set_threaded_gemm_min_work(16.0 * 1024 * 1024);
  // The batch-4 MLP's first layer (4x256x784): slower on two threads than on one.
  sgemm(false, true, 4, 256, 784, 1.0f, a.data(), b.data(), 0.0f, c.data());
  REQUIRE(openblas_get_num_threads() == 1);
  REQUIRE(c[5] == 784 * 0.125f);
  // The batch-64 MLP's first layer (64x256x784, 12.8 M multiply-adds): one thread.
  sgemm(false, true, 64, 256, 784, 1.0f, a.data(), b.data(), 0.0f, c.data());
  REQUIRE(openblas_get_num_threads() == 1);
  // 256x256x256: all threads.
  sgemm(false, false, 256, 256, 256, 1.0f, a.data(), b.data(), 0.0f, c.data());
  REQUIRE(openblas_get_num_threads() == 2);
  REQUIRE(c[7] == 256 * 0.125f);
  // A short inner dimension counts for less: 256x784x32 (a weight gradient over 32 rows).
  sgemm(true, false, 256, 784, 32, 1.0f, a.data(), b.data(), 0.0f, c.data());
  REQUIRE(openblas_get_num_threads() == 1);
  // Inside a pool task nothing changes (the pool's threads are busy; no shared state written).
  sgemm(false, false, 256, 256, 256, 1.0f, a.data(), b.data(), 0.0f, c.data());
  parallel_for(2, 1, [&](int64_t, int64_t) {
    std::vector<float> cc(4 * 256);  // below OpenBLAS's own threshold: one thread whatever it is told
    sgemm(false, true, 4, 256, 256, 1.0f, a.data(), b.data(), 0.0f, cc.data());
  });
  REQUIRE(openblas_get_num_threads() == 2);
  set_num_threads(1);
  sgemm(false, false, 256, 256, 256, 1.0f, a.data(), b.data(), 0.0f, c.data());
  REQUIRE(openblas_get_num_threads() == 1);
  REQUIRE_THROWS_AS(set_threaded_gemm_min_work(-1.0), ValueError);
}

TEST_CASE("sgemm splits products from 1 M multiply-adds over the pool at 2+ threads only",
          "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  GemmThreadMinGuard threshold_guard;
  set_threaded_gemm_min_work(std::numeric_limits<double>::infinity());  // the default
  set_num_threads(1);
  REQUIRE(split_gemm_parts(32, 256, 256) == 1);  // one thread: nothing to split over
  set_num_threads(2);
  REQUIRE(split_gemm_parts(32, 256, 256) == 2);   // an RNN step's h·Uᵀ (2 M multiply-adds)
  REQUIRE(split_gemm_parts(256, 256, 32) == 2);   // its weight gradient
  REQUIRE(split_gemm_parts(256, 256, 4) == 1);    // batch 4: too small to pay for a worker
  REQUIRE(split_gemm_parts(512, 512, 512) == 2);  // large ones too
  REQUIRE(split_gemm_parts(16, 2048, 64) == 2);   // split along the longer side
  REQUIRE(split_gemm_parts(48, 48, 1024) == 1);   // parts would be under 32 rows/columns
  set_num_threads(4);                              // more threads than this machine's cores
  REQUIRE(split_gemm_parts(32, 256, 256) == 4);    // one part per thread
  REQUIRE(split_gemm_parts(100, 64, 512) == 1);    // 4 parts would be under 32 rows
  set_num_threads(3);
  REQUIRE(split_gemm_parts(100, 64, 512) == 3);
  set_num_threads(2);
  set_threaded_gemm_min_work(16.0 * 1024 * 1024);
  REQUIRE(split_gemm_parts(512, 512, 512) == 1);  // OpenBLAS's threads take it
  REQUIRE(split_gemm_parts(32, 256, 256) == 2);
  std::atomic<int> inside{0};
  parallel_for(2, 1, [&](int64_t, int64_t) { inside += split_gemm_parts(32, 256, 256); });
  REQUIRE(inside == 2);  // inside a pool task: never split (the pool is busy)
}

TEST_CASE("sgemm agrees with the reference for every transpose, split or not",
          "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  Rng rng(11);
  // (M, N, K): split by columns (M < N), by rows (M >= N) with a ragged last part, and unsplit;
  // at 3 and 4 threads into as many parts (a pool larger than this machine's 2 cores).
  const int64_t shapes[][3] = {{32, 256, 256}, {200, 72, 160}, {8, 40, 16}};
  for (int threads : {1, 2, 3, 4}) {
    set_num_threads(threads);
    for (const auto& s : shapes) {
      const int64_t M = s[0], N = s[1], K = s[2];
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          Tensor a = Tensor::uniform({M * K}, -1, 1, rng), b = Tensor::uniform({K * N}, -1, 1, rng);
          Tensor c = Tensor::uniform({M * N}, -1, 1, rng);
          std::vector<float> want(c.data(), c.data() + M * N);
          sgemm_reference(ta, tb, M, N, K, 0.5f, a.data(), b.data(), 1.0f, want.data());
          sgemm(ta, tb, M, N, K, 0.5f, a.data(), b.data(), 1.0f, c.data());
          double worst = 0.0;
          for (int64_t i = 0; i < M * N; ++i)
            worst = std::max(worst, std::abs(static_cast<double>(c.data()[i]) - want[i]));
          INFO("threads " << threads << " M " << M << " N " << N << " K " << K << " ta " << ta
                          << " tb " << tb);
          REQUIRE(worst < 1e-4);
        }
    }
  }
}

TEST_CASE("sgemm_pair runs two products at once only at 2+ threads and from 1 M multiply-adds",
          "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  GemmThreadMinGuard threshold_guard;
  set_threaded_gemm_min_work(std::numeric_limits<double>::infinity());  // the default
  set_num_threads(1);
  REQUIRE_FALSE(pair_gemms_on_pool(64, 256, 256, 256, 256, 64));  // one thread: nothing to share
  set_num_threads(2);
  REQUIRE(pair_gemms_on_pool(64, 256, 256, 256, 256, 64));    // an MLP layer's dx and dW (4 M)
  REQUIRE(pair_gemms_on_pool(32, 256, 256, 256, 256, 32));    // an RNN step's dh and dU (2 M)
  REQUIRE_FALSE(pair_gemms_on_pool(4, 256, 256, 256, 256, 4));  // batch 4: too small to pay
  REQUIRE_FALSE(pair_gemms_on_pool(64, 256, 256, 64, 10, 256));  // one of them too small
  REQUIRE(pair_gemms_on_pool(2048, 128, 512, 512, 128, 2048));  // a transformer's (134 M each)
  set_threaded_gemm_min_work(16.0 * 1024 * 1024);
  REQUIRE_FALSE(pair_gemms_on_pool(2048, 128, 512, 512, 128, 2048));  // OpenBLAS's threads take them
  REQUIRE(pair_gemms_on_pool(64, 256, 256, 256, 256, 64));
  std::atomic<int> inside{0};
  parallel_for(2, 1, [&](int64_t, int64_t) { inside += pair_gemms_on_pool(64, 256, 256, 256, 256, 64); });
  REQUIRE(inside == 0);  // inside a pool task: never (the pool is busy)
}

TEST_CASE("sgemm_pair gives the bits of two sgemm calls on one thread", "[threads]") {
  ThreadCountGuard guard;  // restores the count when the test ends
  Rng rng(12);
  // (M, N, K) of both products: at once at 2 threads (the first two), one after the other (a
  // 4-row product, which runs as sgemv rows, and a small one), none of them split.
  const int64_t shapes[][6] = {{64, 256, 256, 256, 256, 64},
                               {32, 256, 256, 256, 256, 32},
                               {4, 256, 256, 256, 256, 4},
                               {16, 24, 40, 24, 40, 16}};
  for (const auto& s : shapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (float beta : {0.0f, 1.0f}) {
          const GemmCall shape1{ta, tb, s[0], s[1], s[2]}, shape2{!ta, tb, s[3], s[4], s[5]};
          Tensor a1 = Tensor::uniform({s[0] * s[2]}, -1, 1, rng), b1 = Tensor::uniform({s[2] * s[1]}, -1, 1, rng);
          Tensor a2 = Tensor::uniform({s[3] * s[5]}, -1, 1, rng), b2 = Tensor::uniform({s[5] * s[4]}, -1, 1, rng);
          Tensor c1 = Tensor::uniform({s[0] * s[1]}, -1, 1, rng), c2 = Tensor::uniform({s[3] * s[4]}, -1, 1, rng);
          auto call = [&](const GemmCall& shape, const Tensor& a, const Tensor& b, float* c) {
            GemmCall g = shape;
            g.alpha = 0.5f;
            g.A = a.data();
            g.B = b.data();
            g.beta = beta;
            g.C = c;
            return g;
          };
          set_num_threads(1);
          std::vector<float> want1(c1.data(), c1.data() + c1.numel()), want2(c2.data(), c2.data() + c2.numel());
          sgemm(call(shape1, a1, b1, want1.data()));
          sgemm(call(shape2, a2, b2, want2.data()));
          std::vector<float> ref1(c1.data(), c1.data() + c1.numel());
          sgemm_reference(ta, tb, s[0], s[1], s[2], 0.5f, a1.data(), b1.data(), beta, ref1.data());
          for (int threads : {1, 2}) {
            set_num_threads(threads);
            std::vector<float> got1(c1.data(), c1.data() + c1.numel()), got2(c2.data(), c2.data() + c2.numel());
            sgemm_pair(call(shape1, a1, b1, got1.data()), call(shape2, a2, b2, got2.data()));
            INFO("threads " << threads << " M " << s[0] << " ta " << ta << " tb " << tb << " beta " << beta);
            REQUIRE(got1 == want1);
            REQUIRE(got2 == want2);
            // Either call absent (a default GemmCall): the other one runs as sgemm runs it.
            std::vector<float> alone1(c1.data(), c1.data() + c1.numel()), alone2(c2.data(), c2.data() + c2.numel());
            sgemm_pair(call(shape1, a1, b1, alone1.data()), GemmCall{});
            sgemm_pair(GemmCall{}, call(shape2, a2, b2, alone2.data()));
            std::vector<float> by_sgemm1(c1.data(), c1.data() + c1.numel()), by_sgemm2(c2.data(), c2.data() + c2.numel());
            sgemm(call(shape1, a1, b1, by_sgemm1.data()));
            sgemm(call(shape2, a2, b2, by_sgemm2.data()));
            REQUIRE(alone1 == by_sgemm1);
            REQUIRE(alone2 == by_sgemm2);
            double worst = 0.0;
            for (size_t i = 0; i < got1.size(); ++i)
              worst = std::max(worst, std::abs(static_cast<double>(got1[i]) - ref1[i]));
            REQUIRE(worst < 1e-3);
          }
        }
}

TEST_CASE("usable_cpus counts the affinity set, not the machine", "[core][threading]") {
  cpu_set_t before;
  REQUIRE(pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0);
  REQUIRE(nl::usable_cpus() == CPU_COUNT(&before));
  int narrowed = 0;
  {
    const OneCpuScope one_cpu;  // what `taskset -c N normlab ...` gives the default
    REQUIRE(one_cpu.pinned());
    narrowed = nl::usable_cpus();
  }
  REQUIRE(narrowed == 1);
}

TEST_CASE("threads taking turns on one CPU: the pool runs its jobs on the caller, same chunks",
          "[threads]") {
  ThreadCountGuard guard(1);  // no workers here: the ones started below inherit the pinning
  const int64_t n = 1 << 14;
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i % 97) * 0.25f;
  // One job: per-chunk sums (a few µs of work a chunk), with each chunk's range and thread.
  struct Chunk {
    int64_t begin = -1, end = -1;
    std::thread::id thread;
    float sum = 0.0f;
  };
  auto job = [&] {
    std::vector<Chunk> chunks(parallel_chunks(n, 1));
    parallel_for_chunks(n, 1, [&](int c, int64_t b, int64_t e) {
      float s = 0.0f;
      for (int64_t i = b; i < e; ++i) s += v[i] * v[i];
      chunks[c] = {b, e, std::this_thread::get_id(), s};
    });
    return chunks;
  };
  const uint64_t inline_before = pool_inline_jobs();
  {
    const OneCpuScope one_cpu;  // `taskset -c N`: the pool's threads take turns on one CPU
    REQUIRE(one_cpu.pinned());
    set_num_threads(2);
    const std::vector<Chunk> first = job();
    REQUIRE(first.size() == 2);
    for (int i = 0; i < 200 && pool_inline_jobs() == inline_before; ++i) job();
    // The caller found its worker starting only after it had given up the CPU, several jobs in
    // a row, and took the next jobs alone: the chunks two threads would get, in order, on the
    // caller (a window lasts 20 ms or more, these jobs a few µs; a job that the window's end sent
    // to the worker starts the next window).
    CHECK(pool_inline_jobs() > inline_before);
    int alone = 0;
    for (int i = 0; i < 20; ++i) {
      const std::vector<Chunk> chunks = job();
      REQUIRE(chunks.size() == 2);
      for (int c = 0; c < 2; ++c) {
        CHECK(chunks[c].begin == first[c].begin);
        CHECK(chunks[c].end == first[c].end);
        CHECK(chunks[c].sum == first[c].sum);  // the same bits
      }
      if (chunks[0].thread == std::this_thread::get_id() &&
          chunks[1].thread == std::this_thread::get_id())
        ++alone;
    }
    CHECK(alone >= 15);
    // A timing made meanwhile says its calls ran so (`bench --json`'s inline_jobs).
    const TimingResult t = time_calls([&] { job(); }, 3, 2.0);
    CHECK(t.inline_jobs > 0);
    set_num_threads(1);  // join the pinned worker while this thread is still pinned
  }
}
