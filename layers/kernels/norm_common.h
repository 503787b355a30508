// Pieces shared by the fused norm kernels (layernorm, rmsnorm, groupnorm, batchnorm): lane-wise
// sums with double accumulation, the gradient destinations of a backward call, and the shape
// of a naive double-precision reference result used by the tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/storage.h"
#include "core/threading.h"

namespace nl::kernels {

// Independent accumulators per reduction. Without -ffast-math the compiler may not reorder a
// float sum, so a single accumulator would stay scalar; fixed lane arrays vectorise and are
// combined in a fixed order (deterministic).
constexpr int kDoubleLanes = 32;
constexpr int kFloatLanes = 64;

// Rows per pool chunk for a norm kernel's row loops: at least this many elements per chunk.
// A parallel_for costs ~5-15 µs here (waking a pool worker), about what 64 K elements of a norm
// pass take, so smaller tensors (512x64 is 32 K) stay on the calling thread
// (docs/performance-history.md, "Pool wake-up").
constexpr int64_t kNormGrainElems = int64_t{1} << 16;
inline int64_t norm_row_grain(int64_t C) { return std::max<int64_t>(1, kNormGrainElems / std::max<int64_t>(1, C)); }

// The sum of the K lanes of acc (K a power of two), in a fixed order: halvings (lane k plus
// lane k + half) down to 8 lanes, then those 8 left to right. Deterministic like a left-to-right
// sum, but each halving is one vector add where a left-to-right sum is K dependent scalar adds,
// which on short rows (C = 64, 128) cost more than the row's whole vector work. (Halving all
// the way down compiles to a scalar loop or spills for the last steps: slower.) Overwrites acc.
template <typename T, int K>
inline T sum_lanes(T (&acc)[K]) {
  static_assert(K > 0 && (K & (K - 1)) == 0, "sum_lanes: the lane count must be a power of two");
  constexpr int kLast = K < 8 ? K : 8;
  for (int half = K / 2; half >= kLast; half /= 2)
    for (int k = 0; k < half; ++k) acc[k] += acc[k + half];
  T s = acc[0];
  for (int k = 1; k < kLast; ++k) s += acc[k];
  return s;
}

// Sum of x[0..n) accumulated in double.
inline double sum_double(const float* x, int64_t n) {
  double acc[kDoubleLanes] = {};
  int64_t i = 0;
  for (; i + kDoubleLanes <= n; i += kDoubleLanes)
    for (int k = 0; k < kDoubleLanes; ++k) acc[k] += static_cast<double>(x[i + k]);
  double s = 0.0;
  for (; i < n; ++i) s += x[i];
  return s + sum_lanes(acc);
}

// Sum of x[i]^2 over x[0..n) accumulated in double (RMSNorm's mean square).
inline double sum_sq_double(const float* x, int64_t n) {
  double acc[kDoubleLanes] = {};
  int64_t i = 0;
  for (; i + kDoubleLanes <= n; i += kDoubleLanes)
    for (int k = 0; k < kDoubleLanes; ++k) {
      const double v = x[i + k];
      acc[k] += v * v;
    }
  double s = 0.0;
  for (; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s + sum_lanes(acc);
}

struct Moments {
  double mean = 0.0;
  double var = 0.0;  // biased (divides by n), clamped at 0
};

// Two-pass mean and biased variance of x[0..n) (n > 0). Pass 1: the mean in double. Pass 2:
// deviations from the float-rounded mean m (exact in float when x is near m, Sterbenz), their
// sum s1 and square sum s2 in double; mean = m + s1/n, var = s2/n - (s1/n)^2 (s1 only corrects
// the rounding of m, so nothing large cancels). Never E[x^2]-E[x]^2 on raw values.
inline Moments row_moments(const float* x, int64_t n) {
  const double m1 = sum_double(x, n) / static_cast<double>(n);
  const float m = static_cast<float>(m1);
  double a1[kDoubleLanes] = {}, a2[kDoubleLanes] = {};
  int64_t i = 0;
  for (; i + kDoubleLanes <= n; i += kDoubleLanes)
    for (int k = 0; k < kDoubleLanes; ++k) {
      const double d = static_cast<double>(x[i + k] - m);
      a1[k] += d;
      a2[k] += d * d;
    }
  double s1 = 0.0, s2 = 0.0;
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i] - m);
    s1 += d;
    s2 += d * d;
  }
  s1 += sum_lanes(a1);
  s2 += sum_lanes(a2);
  const double inv_n = 1.0 / static_cast<double>(n);
  Moments out;
  out.mean = m + s1 * inv_n;
  out.var = std::max(0.0, s2 * inv_n - (s1 * inv_n) * (s1 * inv_n));
  return out;
}

// Splits a double mean into a float and the float of its rounding error, so that kernels can
// form x - mean as (x - hi) - lo: at mean 1e4 and std 1e-2 the float rounding of the mean alone
// (up to 5e-4) would be 5% of a standard deviation.
inline void split_mean(double mean, float* hi, float* lo) {
  *hi = static_cast<float>(mean);
  *lo = static_cast<float>(mean - static_cast<double>(*hi));
}

// Where a backward writes: each pointer may be null (gradient not needed); *_add says whether
// to add into the buffer (it holds other contributions) or overwrite it (fresh buffer).
struct NormGrads {
  float* dx = nullptr;
  bool dx_add = false;
  float* dgamma = nullptr;
  bool dgamma_add = false;
  float* dbeta = nullptr;
  bool dbeta_add = false;
};

// The gradient destinations of a norm op recorded with inputs {x, weight[, bias]}: a fresh
// buffer is overwritten, an existing one is added into (the backward contract).
inline NormGrads norm_grad_targets(GradSink& sink) {
  NormGrads g;
  bool fresh = false;
  if (sink.needs(0)) {
    g.dx = sink.target(0, &fresh).data();
    g.dx_add = !fresh;
  }
  if (sink.needs(1)) {
    g.dgamma = sink.target(1, &fresh).data();
    g.dgamma_add = !fresh;
  }
  if (sink.needs(2)) {
    g.dbeta = sink.target(2, &fresh).data();
    g.dbeta_add = !fresh;
  }
  return g;
}

// The result of a naive double-precision reference (tests compare the fused kernels to it).
struct NormReference {
  std::vector<double> y, dx, dgamma, dbeta;  // dx/dgamma/dbeta empty when no dy was given
  std::vector<double> mean, var;              // per row (LN/GN), per channel (BN); RMSNorm: var = mean square
};

// Writes v into dst (overwrite) or adds it (accumulate).
inline void store(float* dst, float v, bool add) { *dst = add ? *dst + v : v; }

// Zeroed scratch arrays for one kernel call (per-chunk partial sums, per-channel coefficients):
// `arrays` arrays of `len` floats, scratch[k] the k-th. They come from the tensor allocator's cache
// (core/storage.h): 64-byte aligned, and no system allocation once a training loop is in its steady
// state; each array starts on a cache line (stride(): len rounded up to 16 floats, spaced where
// that is a multiple of 2 KiB: spaced_stride). Inner loops
// load and store these arrays as 16-float vectors; at std::vector's 16-byte alignment every such
// access straddled two cache lines, and at 2 threads neighbouring chunks' partials shared a line
// (docs/performance-history.md, eighth round). C++'s aligned operator new was no substitute: 10-20x
// slower than malloc here.
//
// Scratch(arrays, len, rows, row_len): when the rows a loop streams while it stores into the
// scratch are whole 4 KiB pages long (row_len a multiple of 1024), the buffer also starts half a
// page past them in its low 12 address bits (the first array; with spaced_stride the next ones
// a quarter page further each). A load whose low 12 bits match those of an earlier,
// still pending store waits for it ("4K aliasing": the core compares only those bits before the
// full address is known), and such rows all start at the same low bits, so a scratch at the same
// offset as the current column would stall every row. Measured in one process, alternating call
// by call: LayerNorm fwd+bwd 8192x1024 1.05-1.07x, RMSNorm 1.04-1.07x, one thread. Shorter rows
// cover every offset of a page between them and no placement helped reliably (0.95-1.03x).
class Scratch {
 public:
  Scratch(int64_t arrays, int64_t len, const float* rows = nullptr, int64_t row_len = 0)
      : stride_(spaced_stride(len)),
        placed_(rows && arrays > 0 && row_len > 0 && row_len % kPageFloats == 0),
        buf_(arrays * stride_ + (placed_ ? kPageFloats : 0)) {
    data_ = buf_.data() + (placed_ ? half_page_past(buf_.data(), rows) : 0);
    std::fill_n(data_, arrays * stride_, 0.0f);
  }
  float* operator[](int64_t k) { return data_ + k * stride_; }
  int64_t stride() const { return stride_; }

 private:
  static constexpr int64_t kPageFloats = 1024;  // 4096 bytes: the aliasing period
  // len rounded up to whole lines; where that is a multiple of 2 KiB, one more KiB, so that
  // consecutive arrays start a quarter page apart instead of on the same L1 sets (at len = 1024
  // a BatchNorm's 4 coefficient arrays all fell on the sets of the row being read: its dx pass,
  // one row per sweep, 2.98 -> 2.27 ms at 8192x1024; LayerNorm's dgamma/dbeta partials, backward
  // at 2 threads 2.58 -> 2.42; thirty-first round). Bare loop, 8192x1024, 4 coefficient loads per
  // vector: 0.96-1.00 of the time with 1 KiB or 3 KiB apart as with a single array, 0.83 with
  // 2 KiB apart, 0.66-0.68 at the same offset.
  static int64_t spaced_stride(int64_t len) {
    const int64_t lines = (len + 15) / 16 * 16;
    return lines % (kPageFloats / 2) == 0 ? lines + kPageFloats / 4 : lines;
  }
  // Floats to skip from `from` (64-byte aligned) so that it sits 2048 bytes past `rows` modulo
  // 4096, in whole 64-byte lines (rows not on a line leave it within a line of that).
  static int64_t half_page_past(const float* from, const float* rows) {
    const uintptr_t have =
        (reinterpret_cast<uintptr_t>(from) - reinterpret_cast<uintptr_t>(rows)) % 4096;
    return static_cast<int64_t>((2048 - have) % 4096 / 64 * 16);  // unsigned wrap is mod 4096
  }

  int64_t stride_;
  bool placed_;  // before buf_: both size it
  Storage buf_;
  float* data_;
};

// n zeroed doubles from the caching allocator (core/storage.h): the BatchNorm kernels' per-call
// channel sums (2·C doubles and more, 4 KB at C = 256) then reuse a cached block from one
// training step to the next, where a std::vector took a fresh heap block on every call.
class DoubleScratch {
 public:
  explicit DoubleScratch(int64_t n) : buf_(2 * n) { std::fill_n(data(), n, 0.0); }
  double* data() { return reinterpret_cast<double*>(buf_.data()); }  // 64-byte aligned

 private:
  Storage buf_;
};

// How a kernel writes an output array: over it, onto it (accumulate), or streamed past the
// caches (simd::store_stream).
enum class OutStore { kWrite, kAdd, kStream };

// Outputs (y, dx) of at least stream_min_bytes() are streamed past the caches. At 8192x1024 (32
// MiB per array) a norm kernel's output pass otherwise reads every output line from DRAM before
// writing it (read-for-ownership), and in the row-wise kernels that read comes while the row's
// inputs sit idle in L1, so DRAM is busy with reads and writes in turn, never both; streamed,
// the row-wise kernels prefetch the next rows' inputs during the output pass instead. The cost
// lands on the next op, which reads the output from DRAM instead of L3. Measured as forward ->
// a reader of y -> backward -> a reader of dx (scripts/norm-stream-threshold.cpp, 1 thread,
// medians of 6 alternated runs): on the first host, streaming won from 16 MiB arrays (8192x512:
// LayerNorm 3.70 -> 3.22 ms, BatchNorm 4.67 -> 4.34 ms; 8192x1024: 8.99 -> 7.47, 10.24 -> 9.52)
// and was mixed at 8 MiB (8192x256: LayerNorm 1.50 -> 1.43, BatchNorm 1.86 -> 2.05; 4 MiB: both
// lost 15-20 %). On the host of the twenty-third round, where the L3 left to this process
// holds less (a STREAM triad falls from 107 GB/s at 12.6 MB to 55 at 38 MB), 8 MiB arrays win
// by far (8192x256: LayerNorm 2.55 -> 1.83 ms, BatchNorm 4.02 -> 2.38) and 4 MiB ones win or
// lose with the neighbours' load (8192x128: 0.72 -> 0.82 in one sitting, 1.26-1.44 -> 0.89-1.00
// at 4096x256 in another), so 8 MiB is the default (docs/performance-history.md, seventh and
// twenty-third rounds). The rule counts each thread's share of the output: at 2 threads the
// same 8 MiB arrays ran faster through the caches (fwd 8192x256 streamed 0.60-0.68x, fwd+bwd
// LayerNorm 1.18x, BatchNorm 0.93x, RMSNorm 0.91x), two L2s and two cores' bandwidth to L3.
// NORMLAB_STREAM_MIB=N sets another threshold (0: never stream), for A/B measurements.
constexpr int64_t kDefaultStreamBytes = int64_t{8} << 20;

inline int64_t stream_min_bytes() {
  static const int64_t bytes = [] {
    const char* env = std::getenv("NORMLAB_STREAM_MIB");
    if (!env || !*env) return kDefaultStreamBytes;
    const long long mib = std::atoll(env);
    return mib <= 0 ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(mib) << 20;
  }();
  return bytes;
}

// Whether an R x C output at out is streamed: each thread's share of it large enough, and every
// row starting on a 64-byte line (store_stream's requirement) and filling whole lines, i.e.
// whole 16-float vectors, so the streamed loops have no scalar tail.
inline bool stream_output(const float* out, int64_t R, int64_t C) {
  constexpr int64_t kLine = 64;
  const int64_t share = R * C * int64_t{4} / std::max(1, num_threads());
  return out && share >= stream_min_bytes() && C * int64_t{4} % kLine == 0 &&
         reinterpret_cast<uintptr_t>(out) % kLine == 0;
}

// Output passes through the caches (outputs below the streaming size) in blocks of
// kTailBlockBytes of rows, last block first, each block in order (so the prefetchers keep
// ascending streams). Whatever ran just before — a reduction over the same rows (BatchNorm's
// statistics or gradient sums), or the op that wrote the input — ended on the last rows, and
// they are what L2 still holds; an output pass in ascending order would start on rows already
// evicted. Ending on the first rows also leaves those in L2 for the next op, which reads in
// ascending order. Only for passes whose rows are independent: the order of the rows does not
// change a bit. It pays where L3 is slow next to L2 (the Ice Lake host: L3 triad 15-28 GB/s at
// 1 thread, L2's 90-114); see the kernels for their measurements.
constexpr int64_t kTailBlockBytes = 128 * 1024;

// fn(b0, b1) over rows [r0, r1) of C floats in blocks of about kTailBlockBytes (a multiple of
// `multiple` rows, for kernels that take their rows in sweeps), last block first.
template <class Fn>
void blocks_last_first(int64_t r0, int64_t r1, int64_t C, int64_t multiple, Fn&& fn) {
  const int64_t row_bytes = 4 * std::max<int64_t>(1, C);
  const int64_t rows = std::max<int64_t>(1, kTailBlockBytes / row_bytes / multiple) * multiple;
  for (int64_t b1 = r1; b1 > r0;) {
    const int64_t b0 = std::max(r0, r0 + (b1 - r0 - 1) / rows * rows);
    fn(b0, b1);
    b1 = b0;
  }
}

}  // namespace nl::kernels
