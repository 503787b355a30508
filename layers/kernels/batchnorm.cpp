// BatchNorm statistics, forward and backward kernels, the naive reference, and batch_norm()
// (see the header).
#include "layers/kernels/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/simd.h"
#include "core/threading.h"

namespace nl {
namespace kernels {
namespace {

using simd::Vf16;
using simd::kWidth;

constexpr int64_t kChunkElems = 1 << 16;  // elements per reduction chunk (~256 KB of x)
constexpr int64_t kMaxChunks = 16;        // enough to balance 2..16 threads

bool valid(const float* mask, int64_t r) { return !mask || mask[r] != 0.0f; }

// The reductions split rows, not channels: each thread streams whole contiguous rows and the
// inner loops run over C (vectorised). The partition is fixed by (R, C) alone, never by the
// thread count, and partials are combined in chunk order, so results are bit-identical for
// any thread count. Rows -> blocks of ~128 KB of x (a block stays in L2 for a second pass,
// float accumulators suffice within it) -> chunks of whole blocks (one parallel task each,
// double partials per chunk).
struct Partition {
  int64_t block_rows, blocks;
  int64_t chunks;
  int64_t chunk_begin(int64_t k) const { return std::min(blocks, k * blocks / chunks) * block_rows; }
};
Partition partition(int64_t R, int64_t C) {
  Partition p;
  p.block_rows = std::clamp<int64_t>((32 * 1024) / std::max<int64_t>(1, C), 8, 1024);
  p.blocks = (R + p.block_rows - 1) / p.block_rows;
  p.chunks = std::clamp<int64_t>(R * C / kChunkElems, 1, kMaxChunks);
  p.chunks = std::max<int64_t>(1, std::min(p.chunks, p.blocks));
  return p;
}

// fn(k, r0, r1) for every chunk k (rows [r0, r1)), chunks spread over the pool.
template <class Fn>
void for_each_chunk(const Partition& p, int64_t R, Fn&& fn) {
  parallel_for(p.chunks, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) fn(k, p.chunk_begin(k), std::min(R, p.chunk_begin(k + 1)));
  });
}


// Rows whose mean shifts a chunk's first block in the statistics (see batchnorm_moments):
// a 32-row mean is typically within 0.18 standard deviations (1/√32) of the block's.
constexpr int64_t kPrefixRows = 32;

// Every row loop here is bound by L1 loads and stores: one row per sweep loads (and for the
// sums, stores) two to four per-channel vectors for every vector of x (and dy). kSweepRows rows
// per sweep share them.
constexpr int kSweepRows = 4;
// Except the output passes (apply, dx) where they stream from DRAM (stream_output): there one row
// per sweep, one read stream per input and one write stream, and the per-channel vectors loaded
// for every row. Side by side the 4 rows' streams ran slower than the loads saved (bare pattern,
// 8192x1024, 1 thread: apply 1.89 against 1.52 ms); with C = 1024 they also share L1 sets (every
// row starts at the same 4 KiB offset). Measured in one process, alternated call by call
// (thirty-first round, 8192x1024, 1 thread): apply 2.06 -> 1.53-1.67 ms, dx 2.67 -> 2.27 with
// the coefficient arrays on different L1 sets (Scratch), 2.98 without; at 2 threads even.
constexpr int kStreamSweepRows = 1;

// The output passes through the caches (apply, dx) follow a reduction over the same rows
// (statistics, gradient sums) and take their rows last block first (blocks_last_first,
// norm_common.h): each starts on the rows the reduction left in L2. On the Ice Lake host (L3
// triad 16-18 GB/s at 1 thread, DRAM's 14, L2's 90) BatchNorm fwd+bwd 2048x128 1.09-1.11x at 1
// thread (in one process, alternated call by call; the same with blocks of 64-512 KiB),
// 8192x256 1.01-1.02x at 1 and 2 threads (not streamed at 2), 512x64 and the streamed 8192x1024
// unchanged (thirty-third round). The AMD hosts measured such reorderings at 8192x256 and
// 8192x1024 only, where they kept nothing (performance.md, "Tried and dropped").

// The reductions (statistics, gradient sums) prefetch the rows this many bytes ahead of each
// sweep, into L2 (simd::prefetch_l2). A sweep reads 4 rows side by side, 4 interleaved streams,
// and the hardware prefetchers alone fall behind on them (fifteenth round: 8 KiB ahead into L1,
// BatchNorm fwd+bwd 8192x256 1.13x faster at 1 thread, 8192x512 1.14x). Into L1 that distance
// is two rows at C = 1024, lines of the same L1 sets as the rows being read (4 rows of x and 4 of
// dy per sweep already fill a set's 8 ways there); into L2 the lines can be asked for further
// ahead. Measured in one process, alternated call by call (thirty-first round, 8192x1024): the
// statistics pass 1.88 -> 1.24-1.41 ms at 1 thread and 0.98 -> 0.71 at 2, the gradient sums
// 2.79 -> 2.6 and 1.71 -> 1.46. At 8192x512 (libraries before and after this round, with the
// Scratch spacing and grad_sums_consecutive, 1 thread) the statistics 0.67-1.01 -> 0.43 ms and
// the gradient sums 1.52-2.37 -> 0.74-0.78; at 8192x256 0.32-0.43 -> 0.28-0.33. 16 KiB ahead
// did as well at C <= 512, less at 1024 (statistics 1.39 against 1.24); 64-128 KiB were even.
// Tensors of at most 1 MiB (this machine's L2), whose rows are in cache already, skip it.
// Those measurements were on AMD hosts. On the Ice Lake host (thirty-third round, fwd+bwd in
// one process, alternated call by call, 1 thread) the same prefetches cost 6.5-7.7 % at
// C = 1024 (8192 and 16384 rows; 1.5 % at 2 threads) and 2.5 % at 2048, were even at 512 and
// saved 15 % at 256: where each row is a 4 KiB page or more of its own, Intel's L2 streamer
// follows every row, and the prefetches only add loads. So on Intel such rows go without.
constexpr int64_t kPrefetchBytes = 64 * 1024;
constexpr int64_t kPrefetchMinBytes = int64_t{1} << 20;
constexpr int64_t kPageBytes = 4096;
bool hardware_follows_rows(int64_t C) {
  static const bool intel = __builtin_cpu_is("intel");
  return intel && C * 4 >= kPageBytes;
}
// Elements ahead for R rows of C floats: whole rows, at least one; 0 (no prefetch) for a small x
// or where the hardware follows the rows itself.
int64_t prefetch_ahead(int64_t R, int64_t C) {
  if (R * C * 4 <= kPrefetchMinBytes || hardware_follows_rows(C)) return 0;
  return std::max<int64_t>(1, kPrefetchBytes / (4 * std::max<int64_t>(1, C))) * C;
}

// Block statistics, pass 1, for kRows rows (pointers rows[0..kRows)): s1 += Σ_i (x_i - xf).
template <int kRows>
void shifted_sums(const float* const* rows, const float* xf, float* s1, int64_t C) {
  int64_t c = 0;
  for (; c + kWidth <= C; c += kWidth) {
    const Vf16 f = simd::load(xf + c);
    Vf16 part = simd::load(rows[0] + c) - f;
    for (int i = 1; i < kRows; ++i) part += simd::load(rows[i] + c) - f;
    simd::store(s1 + c, simd::load(s1 + c) + part);
  }
  for (; c < C; ++c) {
    float part = rows[0][c] - xf[c];
    for (int i = 1; i < kRows; ++i) part += rows[i][c] - xf[c];
    s1[c] += part;
  }
}

// Over kRows rows at vector column c, left to right: a1 = Σ (x - m), a2 = Σ (x - m)².
template <int kRows>
inline void vector_deviations(const float* const* rows, int64_t c, Vf16 m, Vf16& a1, Vf16& a2) {
  Vf16 d = simd::load(rows[0] + c) - m;
  a1 = d;
  a2 = d * d;
  for (int i = 1; i < kRows; ++i) {
    d = simd::load(rows[i] + c) - m;
    a1 += d;
    a2 += d * d;
  }
}

// Block statistics, pass 2, for kRows rows: with d = x - sh, s1 += Σ d and s2 += Σ d². Prefetches
// each row `ahead` elements on (none when 0) where that stays before x_end.
template <int kRows>
void deviation_sums(const float* const* rows, const float* sh, float* s1, float* s2, int64_t C,
                    int64_t ahead, const float* x_end) {
  const float* next[kRows];
  for (int i = 0; i < kRows; ++i) next[i] = x_end - rows[i] > ahead ? rows[i] + ahead : rows[i];
  int64_t c = 0;
  for (; c + kWidth <= C; c += kWidth) {
    if (ahead > 0)
      for (int i = 0; i < kRows; ++i) simd::prefetch_l2(next[i] + c);
    Vf16 a1, a2;
    vector_deviations<kRows>(rows, c, simd::load(sh + c), a1, a2);
    simd::store(s1 + c, simd::load(s1 + c) + a1);
    simd::store(s2 + c, simd::load(s2 + c) + a2);
  }
  for (; c < C; ++c) {
    float d = rows[0][c] - sh[c];
    float a1 = d, a2 = d * d;
    for (int i = 1; i < kRows; ++i) {
      d = rows[i][c] - sh[c];
      a1 += d;
      a2 += d * d;
    }
    s1[c] += a1;
    s2[c] += a2;
  }
}

// deviation_sums<kRows> for kGroups consecutive groups of kRows rows in one sweep (C a multiple
// of kWidth, no prefetch): each group's sums added to s1, s2 in turn, the same operations in the
// same order as kGroups calls of deviation_sums<kRows> (the same bits), with kGroups·kRows rows'
// loads in flight. Where nothing is prefetched (x of at most 1 MiB; rows of a page or more on
// Intel) the hardware alone keeps the rows coming, and it keeps more coming the more rows a sweep
// reads at once: on the Ice Lake host one thread read 8192x1024 at 13.7 GB/s 4 rows a sweep, 15.0
// 8 rows, 15.8 16 rows; the statistics pass 3.21 -> 2.98 ms with merge_block, 2.84 with 16-row
// sweeps as well (caches flushed, thirty-fourth round). A gradient-sums pass reads 4 rows of two
// arrays a sweep already: 8 or 16 rows changed nothing there (4.87 against 4.84-5.14 ms).
constexpr int kStatGroups = 4;
template <int kRows, int kGroups>
void deviation_sums_grouped(const float* const* rows, const float* sh, float* s1, float* s2,
                            int64_t C) {
  for (int64_t c = 0; c < C; c += kWidth) {
    const Vf16 m = simd::load(sh + c);
    Vf16 t1 = simd::load(s1 + c), t2 = simd::load(s2 + c);
    for (int g = 0; g < kGroups; ++g) {
      Vf16 a1, a2;
      vector_deviations<kRows>(rows + g * kRows, c, m, a1, a2);
      t1 = t1 + a1;
      t2 = t2 + a2;
    }
    simd::store(s1 + c, t1);
    simd::store(s2 + c, t2);
  }
}

// Backward sums for kRows rows at element offsets offs[0..kRows): ady += Σ dy,
// adx += Σ dy (x - m). Prefetches each row of dy and x `ahead` elements on (none when 0), within
// total.
template <int kRows>
void grad_sums_rows(const float* dy, const float* x, const int64_t* offs, const float* m,
                    float* ady, float* adx, int64_t C, int64_t ahead, int64_t total) {
  int64_t next[kRows];
  for (int i = 0; i < kRows; ++i) next[i] = offs[i] + ahead < total ? offs[i] + ahead : offs[i];
  int64_t c = 0;
  for (; c + kWidth <= C; c += kWidth) {
    if (ahead > 0)
      for (int i = 0; i < kRows; ++i) {
        simd::prefetch_l2(dy + next[i] + c);
        simd::prefetch_l2(x + next[i] + c);
      }
    const Vf16 vm = simd::load(m + c);
    Vf16 d = simd::load(dy + offs[0] + c);
    Vf16 a1 = d, a2 = d * (simd::load(x + offs[0] + c) - vm);
    for (int i = 1; i < kRows; ++i) {
      d = simd::load(dy + offs[i] + c);
      a1 += d;
      a2 += d * (simd::load(x + offs[i] + c) - vm);
    }
    simd::store(ady + c, simd::load(ady + c) + a1);
    simd::store(adx + c, simd::load(adx + c) + a2);
  }
  for (; c < C; ++c) {
    float d = dy[offs[0] + c];
    float a1 = d, a2 = d * (x[offs[0] + c] - m[c]);
    for (int i = 1; i < kRows; ++i) {
      d = dy[offs[i] + c];
      a1 += d;
      a2 += d * (x[offs[i] + c] - m[c]);
    }
    ady[c] += a1;
    adx[c] += a2;
  }
}

// grad_sums_rows for kRows consecutive rows (no mask) of C floats, C a multiple of kWidth: row i
// at dy0 + i C and x0 + i C, and (kPrefetch) its lines `ahead` floats on asked for at pdy + i C
// and px + i C. The same sums in the same order as grad_sums_rows; addressed from two row
// pointers and the stride, where grad_sums_rows' per-row offsets and prefetch rows took more
// registers than the loop has (GCC kept some in vector registers and spilled one vector a step).
// Measured in one process, alternated call by call (thirty-first round, 1 thread): gradient sums
// 8192x1024 2.35 -> 2.13 ms, 8192x512 0.76 -> 0.68 and 1.01 -> 0.86 in a slower stretch; at
// 8192x256 0.28 -> 0.30 (slower), so rows shorter than kConsecutiveMinC keep grad_sums_rows.
constexpr int64_t kConsecutiveMinC = 512;
template <int kRows, bool kPrefetch>
void grad_sums_consecutive(const float* __restrict dy0, const float* __restrict x0, int64_t C,
                           const float* __restrict m, float* __restrict ady,
                           float* __restrict adx, const float* pdy, const float* px) {
  for (int64_t c = 0; c < C; c += kWidth) {
    if constexpr (kPrefetch)
      for (int i = 0; i < kRows; ++i) {
        simd::prefetch_l2(pdy + i * C + c);
        simd::prefetch_l2(px + i * C + c);
      }
    const Vf16 vm = simd::load(m + c);
    Vf16 d = simd::load(dy0 + c);
    Vf16 a1 = d, a2 = d * (simd::load(x0 + c) - vm);
    for (int i = 1; i < kRows; ++i) {
      d = simd::load(dy0 + i * C + c);
      a1 += d;
      a2 += d * (simd::load(x0 + i * C + c) - vm);
    }
    simd::store(ady + c, simd::load(ady + c) + a1);
    simd::store(adx + c, simd::load(adx + c) + a2);
  }
}

// Whether rows [r, r + kRows) are all valid.
template <int kRows>
bool sweep_valid(const float* mask, int64_t r) {
  for (int i = 0; i < kRows; ++i)
    if (!valid(mask, r + i)) return false;
  return true;
}

// Walks rows [r0, r1) in order: rows(r, n) for kRows valid rows at once where they are (n a
// std::integral_constant: kRows, else 1 for a single valid row), masked(r) for a padded row.
template <int kRows, class Rows, class Masked>
void sweep_rows(const float* mask, int64_t r0, int64_t r1, Rows&& rows, Masked&& masked) {
  for (int64_t r = r0; r < r1;) {
    if (r + kRows <= r1 && sweep_valid<kRows>(mask, r)) {
      rows(r, std::integral_constant<int, kRows>{});
      r += kRows;
      continue;
    }
    if (valid(mask, r)) rows(r, std::integral_constant<int, 1>{});
    else masked(r);
    ++r;
  }
}

// y = (x - m) * a + b for kRows rows, written or (kStream) streamed past the caches.
template <int kRows, bool kStream>
void apply_rows(const float* x, float* y, const float* a, const float* b, const float* m,
                int64_t C) {
  int64_t c = 0;
  for (; c + kWidth <= C; c += kWidth) {
    const Vf16 va = simd::load(a + c), vb = simd::load(b + c), vm = simd::load(m + c);
    for (int i = 0; i < kRows; ++i) {
      const Vf16 v = (simd::load(x + i * C + c) - vm) * va + vb;
      if constexpr (kStream) simd::store_stream(y + i * C + c, v);
      else simd::store(y + i * C + c, v);
    }
  }
  for (; c < C; ++c)
    for (int i = 0; i < kRows; ++i) y[i * C + c] = (x[i * C + c] - m[c]) * a[c] + b[c];
}

// dx = p*dy + q - s*(x - m) for kRows rows, written, added or streamed (kMode); with kFolded
// the mean is already in q (dx = p*dy + q - s*x) and m is not read.
template <int kRows, OutStore kMode, bool kFolded>
void finish_rows(const float* dy, const float* x, float* dx, const float* p, const float* q,
                 const float* s, const float* m, int64_t C) {
  int64_t c = 0;
  for (; c + kWidth <= C; c += kWidth) {
    const Vf16 vp = simd::load(p + c), vq = simd::load(q + c), vs = simd::load(s + c);
    Vf16 vm{};
    if constexpr (!kFolded) vm = simd::load(m + c);
    for (int i = 0; i < kRows; ++i) {
      const int64_t at = i * C + c;
      const Vf16 vx = simd::load(x + at);
      Vf16 v;
      if constexpr (kFolded) v = vp * simd::load(dy + at) + vq - vs * vx;
      else v = vp * simd::load(dy + at) + vq - vs * (vx - vm);
      if constexpr (kMode == OutStore::kStream) simd::store_stream(dx + at, v);
      else if constexpr (kMode == OutStore::kAdd) simd::store(dx + at, simd::load(dx + at) + v);
      else simd::store(dx + at, v);
    }
  }
  for (; c < C; ++c)
    for (int i = 0; i < kRows; ++i) {
      const int64_t at = i * C + c;
      const float v = kFolded ? p[c] * dy[at] + q[c] - s[c] * x[at]
                              : p[c] * dy[at] + q[c] - s[c] * (x[at] - m[c]);
      dx[at] = kMode == OutStore::kAdd ? dx[at] + v : v;
    }
}

// Chan, Golub & LeVeque's pairwise merge (1979), per channel: (M, M2) over n rows and (bmean,
// bm2) over nb more become the moments over n + nb, with the weights of ChanWeights. chan_merge
// and merge_block both go through it, so a block merged either way gives the same bits.
struct ChanWeights {
  double mean, m2;
  // Once per merge, not a division per channel (a vector divide per 8 channels cost about a
  // third of the statistics pass at C = 1024).
  ChanWeights(int64_t n, int64_t nb) {
    const double na = static_cast<double>(n), nbd = static_cast<double>(nb);
    const double nn = na + nbd;
    mean = nbd / nn;
    m2 = na * nbd / nn;
  }
};
inline void chan_merge_channel(double& M, double& M2, double bmean, double bm2,
                               const ChanWeights& w) {
  const double delta = bmean - M;
  M += delta * w.mean;
  M2 += bm2 + delta * delta * w.m2;
}

// One block's statistics from its deviation sums (s1 = Σ (x - sh), s2 = Σ (x - sh)² over nb
// rows) merged into the chunk's (M, M2) over n rows with chan_merge's arithmetic, and the next
// block's shift (the chunk's mean so far, as a float) and zeroed sums made ready: one sweep over
// the channels where separate loops took five (the same bits). Between two blocks nothing reads
// memory, so this is time the pass's DRAM stream stands still: at 8192x1024 (256 blocks of 32
// rows) the one sweep took the statistics pass from 3.21 to 2.98 ms (thirty-fourth round).
void merge_block(double* __restrict M, double* __restrict M2, int64_t n, float* __restrict s1,
                 float* __restrict s2, float* __restrict sh, int64_t nb, int64_t C) {
  const double inv = 1.0 / static_cast<double>(nb);
  const ChanWeights w(n, nb);
  for (int64_t c = 0; c < C; ++c) {
    const double a = s1[c];
    const double bmean = static_cast<double>(sh[c]) + a * inv;
    const double bm2 = std::max(0.0, static_cast<double>(s2[c]) - a * a * inv);
    chan_merge_channel(M[c], M2[c], bmean, bm2, w);
    sh[c] = static_cast<float>(M[c]);
    s1[c] = 0.0f;
    s2[c] = 0.0f;
  }
}

}  // namespace

void chan_merge(double* __restrict M, double* __restrict M2, int64_t n, const double* bmean,
                const double* bm2, int64_t nb, int64_t C) {
  const ChanWeights w(n, nb);
  for (int64_t c = 0; c < C; ++c) chan_merge_channel(M[c], M2[c], bmean[c], bm2[c], w);
}

int64_t batchnorm_moments(const float* x, const float* mask, int64_t R, int64_t C,
                          double* mean_out, double* m2_out) {
  const Partition P = partition(R, C);
  const size_t Cs = static_cast<size_t>(C);
  const int64_t ahead = prefetch_ahead(R, C);
  const float* x_end = x + R * C;
  // Per chunk: (n, M, M2) over its valid rows.
  DoubleScratch part(2 * C * P.chunks);
  std::vector<int64_t> count(P.chunks, 0);
  for_each_chunk(P, R, [&](int64_t k, int64_t r0, int64_t r1) {
    double* M = part.data() + 2 * Cs * k;
    double* M2 = M + C;
    Scratch fs(3, C);  // each array on its own cache lines (see Scratch)
    float* __restrict s1 = fs[0];
    float* __restrict s2 = fs[1];
    float* __restrict sh = fs[2];
    std::vector<const float*> rows(static_cast<size_t>(P.block_rows));
    int64_t n = 0;
    for (int64_t rb = r0; rb < r1; rb += P.block_rows) {
      const int64_t re = std::min(r1, rb + P.block_rows);
      int64_t nb = 0;  // the block's valid rows
      for (int64_t r = rb; r < re; ++r)
        if (valid(mask, r)) rows[nb++] = x + r * C;
      if (nb == 0) continue;
      // s1 += Σ (x - sh), s2 += Σ (x - sh)² over the block (from zero: merge_block and
      // mean_of_first leave them so).
      auto deviations = [&] {
        int64_t i = 0;
        if (ahead == 0 && C % kWidth == 0)
          for (; i + kStatGroups * kSweepRows <= nb; i += kStatGroups * kSweepRows)
            deviation_sums_grouped<kSweepRows, kStatGroups>(&rows[i], sh, s1, s2, C);
        for (; i + kSweepRows <= nb; i += kSweepRows)
          deviation_sums<kSweepRows>(&rows[i], sh, s1, s2, C, ahead, x_end);
        for (; i < nb; ++i) deviation_sums<1>(&rows[i], sh, s1, s2, C, ahead, x_end);
      };
      // The block's deviations are summed from a shift close to its mean, in one pass where the
      // shift can be had without reading the block first: after the chunk's first block, the
      // chunk's mean so far; for the first block, the float mean of its first kPrefixRows rows (a
      // small read, from cache again in the pass). The rows of a batch are exchangeable, so either
      // shift is within a fraction of a standard deviation of the block's mean, and s2 - s1²/nb
      // loses nothing. Where it is not (sorted rows, a drifting distribution), s1² > s2·nb/2 in
      // some channel (the shift is more than one standard deviation off: s2 - s1²/nb would cancel
      // more than a bit of the block's own spread, and s2 may even overflow where the block's
      // deviations do not), and the block takes two passes: its own float mean, then the deviations
      // from it. Saves the second read of most blocks (BatchNorm fwd 2048×128 1.12-1.19× faster,
      // docs/performance-history.md, step 21; the first blocks' prefix: ninth round).
      // False on NaN (comparisons with it are false); an infinite s2 retries too. Vectorised:
      // as a scalar loop this check cost 6-12 % of the whole pass at C = 256-1024 (ninth round).
      auto shift_ok = [&] {
        const float half_nb = 0.5f * static_cast<float>(nb);
        constexpr float kMax = std::numeric_limits<float>::max();
        const Vf16 vh = simd::splat(half_nb), vmax = simd::splat(kMax);
        simd::Vi16 bad{};
        int64_t c = 0;
        for (; c + kWidth <= C; c += kWidth) {
          const Vf16 a = simd::load(s1 + c), b = simd::load(s2 + c);
          bad |= ~((a * a <= vh * b) & (b <= vmax));
        }
        bool ok = !simd::any(bad);
        for (; c < C; ++c) ok &= s1[c] * s1[c] <= half_nb * s2[c] && s2[c] <= kMax;
        return ok;
      };
      // sh = the float mean of the block's first `count` rows, summed as deviations from its
      // first valid row; s1 and s2 zeroed after.
      auto mean_of_first = [&](int64_t count) {
        const float* xf = rows[0];
        std::fill(s1, s1 + C, 0.0f);
        int64_t i = 1;
        for (; i + kSweepRows <= count; i += kSweepRows)
          shifted_sums<kSweepRows>(&rows[i], xf, s1, C);
        for (; i < count; ++i) shifted_sums<1>(&rows[i], xf, s1, C);
        const float inv_count = 1.0f / static_cast<float>(count);
        for (int64_t c = 0; c < C; ++c) sh[c] = xf[c] + s1[c] * inv_count;
        std::fill(s1, s1 + C, 0.0f);
        std::fill(s2, s2 + C, 0.0f);
      };
      bool shifted_ok;
      if (n > 0) {  // sh (the chunk's mean so far) and zeroed sums from the last merge_block
        deviations();
        shifted_ok = shift_ok();
      } else {
        const int64_t prefix = std::min(nb, kPrefixRows);
        mean_of_first(prefix);
        deviations();
        shifted_ok = prefix == nb || shift_ok();  // the block's own mean needs no check
      }
      if (!shifted_ok) {
        mean_of_first(nb);
        deviations();
      }
      merge_block(M, M2, n, s1, s2, sh, nb, C);
      n += nb;
    }
    count[k] = n;
  });
  // Chunks merged in chunk order: the same arithmetic for any thread count.
  std::fill(mean_out, mean_out + C, 0.0);
  std::fill(m2_out, m2_out + C, 0.0);
  int64_t n = 0;
  for (int64_t k = 0; k < P.chunks; ++k) {
    if (count[k] == 0) continue;
    const double* pk = part.data() + 2 * Cs * k;
    chan_merge(mean_out, m2_out, n, pk, pk + C, count[k], C);
    n += count[k];
  }
  return n;
}

void batchnorm_finish_stats(const double* M, const double* M2, int64_t n, int64_t C, float eps,
                            float* mean, float* mean_lo, float* var, float* rstd) {
  for (int64_t c = 0; c < C; ++c) {
    const double v = n > 0 ? std::max(0.0, M2[c] / static_cast<double>(n)) : 0.0;
    split_mean(M[c], &mean[c], &mean_lo[c]);
    if (var) var[c] = static_cast<float>(v);
    rstd[c] = static_cast<float>(1.0 / std::sqrt(v + static_cast<double>(eps)));
  }
}

void batchnorm_stats(const float* x, const float* mask, int64_t R, int64_t C, float eps,
                     float* mean, float* mean_lo, float* var, float* rstd) {
  DoubleScratch tot(2 * C);
  const int64_t n = batchnorm_moments(x, mask, R, C, tot.data(), tot.data() + C);
  batchnorm_finish_stats(tot.data(), tot.data() + C, n, C, eps, mean, mean_lo, var, rstd);
}

void batchnorm_apply(const float* x, const float* mask, const float* gamma, const float* beta,
                     const float* mean, const float* mean_lo, const float* rstd, int64_t R,
                     int64_t C, float* y) {
  // y = ((x - mh) - ml) * a + b = (x - mh) * a + (b - ml * a): the low part of the mean folds
  // into the shift (x - mh stays exact near the mean, so nothing is lost), one load less per
  // vector in this load-bound loop.
  Scratch coef(3, C);  // each array on its own cache lines (see Scratch)
  float* sc = coef[0];
  float* sb = coef[1];
  float* mh = coef[2];
  for (int64_t c = 0; c < C; ++c) {
    sc[c] = gamma ? rstd[c] * gamma[c] : rstd[c];
    sb[c] = static_cast<float>(static_cast<double>(beta ? beta[c] : 0.0f) -
                               static_cast<double>(mean_lo[c]) * sc[c]);
    mh[c] = mean[c];
  }
  // Rows [r0, r1), y streamed or not (a std::bool_constant), the sweep as kStreamSweepRows says.
  auto rows = [&](int64_t r0, int64_t r1, auto stream) {
    constexpr bool kStream = decltype(stream)::value;
    sweep_rows<kStream ? kStreamSweepRows : kSweepRows>(
        mask, r0, r1,
        [&](int64_t r, auto n) {
          apply_rows<decltype(n)::value, kStream>(x + r * C, y + r * C, sc, sb, mh, C);
        },
        [&](int64_t r) { std::fill(y + r * C, y + (r + 1) * C, 0.0f); });
    if constexpr (kStream) simd::stream_fence();  // before the pool hands y on
  };
  if (stream_output(y, R, C))
    parallel_for(R, norm_row_grain(C), [&](int64_t r0, int64_t r1) {
      rows(r0, r1, std::true_type{});
    });
  else
    parallel_for(R, norm_row_grain(C), [&](int64_t r0, int64_t r1) {
      blocks_last_first(r0, r1, C, kSweepRows,
                        [&](int64_t b0, int64_t b1) { rows(b0, b1, std::false_type{}); });
    });
}

void batchnorm_grad_sums(const float* dy, const float* x, const float* mask, const float* mean,
                         const float* mean_lo, int64_t R, int64_t C, double* sums) {
  const size_t Cs = static_cast<size_t>(C);
  // Per channel: Σ dy and Σ dy * (x - mean) over valid rows, one pass over x and dy. Float
  // within a block, double per chunk, chunks summed in order (thread-count independent).
  std::fill(sums, sums + 2 * C, 0.0);
  {
    const Partition P = partition(R, C);
    const int64_t ahead = prefetch_ahead(R, C);
    DoubleScratch part(2 * C * P.chunks);
    for_each_chunk(P, R, [&](int64_t k, int64_t r0, int64_t r1) {
      double* __restrict pdy = part.data() + 2 * Cs * k;
      double* __restrict pdx = pdy + C;
      Scratch fs(2, C);  // each array on its own cache lines (see Scratch)
      float* __restrict ady = fs[0];
      float* __restrict adx = fs[1];
      const float* __restrict m = mean;
      std::vector<int64_t> rows(static_cast<size_t>(P.block_rows));
      for (int64_t rb = r0; rb < r1; rb += P.block_rows) {
        const int64_t re = std::min(r1, rb + P.block_rows);
        int64_t nb = 0;  // the block's valid rows
        for (int64_t r = rb; r < re; ++r)
          if (valid(mask, r)) rows[nb++] = r * C;
        std::fill_n(ady, C, 0.0f);
        std::fill_n(adx, C, 0.0f);
        int64_t i = 0;
        if (!mask && C >= kConsecutiveMinC && C % kWidth == 0)  // rows[i] = rows[0] + i C
          for (; i + kSweepRows <= nb; i += kSweepRows) {
            const int64_t at = rows[i];
            const float *dyr = dy + at, *xr = x + at;
            if (ahead > 0 && at + ahead + kSweepRows * C <= R * C)
              grad_sums_consecutive<kSweepRows, true>(dyr, xr, C, m, ady, adx, dyr + ahead,
                                                      xr + ahead);
            else
              grad_sums_consecutive<kSweepRows, false>(dyr, xr, C, m, ady, adx, nullptr,
                                                       nullptr);
          }
        for (; i + kSweepRows <= nb; i += kSweepRows)
          grad_sums_rows<kSweepRows>(dy, x, &rows[i], m, ady, adx, C, ahead, R * C);
        for (; i < nb; ++i) grad_sums_rows<1>(dy, x, &rows[i], m, ady, adx, C, ahead, R * C);
        for (int64_t c = 0; c < C; ++c) {
          pdy[c] += ady[c];
          pdx[c] += adx[c];
        }
      }
    });
    for (int64_t k = 0; k < P.chunks; ++k) {
      const double* pk = part.data() + 2 * Cs * k;
      for (int64_t c = 0; c < 2 * C; ++c) sums[c] += pk[c];
    }
  }
  // Σ dy (x - mh - ml) = Σ dy (x - mh) - ml Σ dy, the low part of the mean applied once here.
  for (int64_t c = 0; c < C; ++c) sums[C + c] -= static_cast<double>(mean_lo[c]) * sums[c];
}

void batchnorm_backward(const float* dy, const float* x, const float* mask, const float* gamma,
                        const float* mean, const float* mean_lo, const float* rstd, int64_t R,
                        int64_t C, int64_t n, bool batch_stats, const NormGrads& grads) {
  const bool need_sums = grads.dgamma || grads.dbeta || (grads.dx && batch_stats);
  DoubleScratch sums(2 * C);
  if (need_sums) batchnorm_grad_sums(dy, x, mask, mean, mean_lo, R, C, sums.data());
  batchnorm_backward_finish(dy, x, mask, gamma, mean, mean_lo, rstd, R, C, sums.data(),
                            sums.data(), n, batch_stats, grads);
}

bool dx_mean_folds(const float* mean, const float* mean_lo, const float* rstd, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    const double m = static_cast<double>(mean[c]) + mean_lo[c];
    if (!(std::abs(m) * rstd[c] <= 1.0)) return false;  // NaN too: keep the explicit form
  }
  return true;
}

void batchnorm_backward_finish(const float* dy, const float* x, const float* mask,
                               const float* gamma, const float* mean, const float* mean_lo,
                               const float* rstd, int64_t R, int64_t C, const double* param_sums,
                               const double* dx_sums, int64_t n, bool batch_stats,
                               const NormGrads& grads) {
  for (int64_t c = 0; c < C; ++c) {
    if (grads.dbeta) store(grads.dbeta + c, static_cast<float>(param_sums[c]), grads.dbeta_add);
    if (grads.dgamma)
      store(grads.dgamma + c, static_cast<float>(param_sums[C + c] * rstd[c]), grads.dgamma_add);
  }
  if (!grads.dx) return;
  const double* sdy = dx_sums;
  const double* sdx = dx_sums + C;
  // dx = p*dy + q - s*(x - mean) per channel (the closed form with its constants folded). With
  // x - mean = (x - mh) - ml, the low part folds into q: q + s*ml (x - mh stays exact near the
  // mean), one load less per vector in this load-bound loop. Where the mean cannot cost
  // precision — every channel's |mean| within its standard deviation, or no batch statistics
  // (s = 0) — all of it folds into q: dx = p*dy + (q + s*mean) - s*x, three per-channel arrays
  // instead of four (see dx_mean_folds).
  const bool folded = !batch_stats || dx_mean_folds(mean, mean_lo, rstd, C);
  Scratch coef(folded ? 3 : 4, C);  // each array on its own cache lines (see Scratch)
  float* p = coef[0];
  float* q = coef[1];
  float* s = coef[2];
  float* mh = folded ? nullptr : coef[3];  // the mean's high part, read only when explicit
  for (int64_t c = 0; c < C; ++c) {
    const double k1 = static_cast<double>(gamma ? gamma[c] : 1.0f) * rstd[c];
    p[c] = static_cast<float>(k1);
    if (mh) mh[c] = mean[c];
    if (batch_stats) {
      const double a = sdy[c] / static_cast<double>(n);                   // mean(dy)
      const double b = sdx[c] * rstd[c] / static_cast<double>(n);         // mean(dy * x̂)
      const double sc = k1 * b * rstd[c];
      s[c] = static_cast<float>(sc);
      // Folded, the kernel multiplies x by the float s, so the mean goes into q with that s:
      // q - s*x is then -k1*a - s*(x - mean) but for roundings of the size of the terms.
      q[c] = folded ? static_cast<float>(-k1 * a + static_cast<double>(s[c]) *
                                                       (static_cast<double>(mean[c]) + mean_lo[c]))
                    : static_cast<float>(-k1 * a + sc * static_cast<double>(mean_lo[c]));
    } else {
      q[c] = s[c] = 0.0f;
    }
  }
  float* dx = grads.dx;
  const bool add = grads.dx_add;
  const OutStore mode = add                          ? OutStore::kAdd
                        : stream_output(dx, R, C) ? OutStore::kStream
                                                     : OutStore::kWrite;
  auto masked = [&](int64_t r) {
    if (!add) std::fill(dx + r * C, dx + (r + 1) * C, 0.0f);
  };
  // Rows [r0, r1), kRows per sweep, dx stored as mode (a std::integral_constant) says.
  auto rows = [&](int64_t r0, int64_t r1, auto mode) {
    constexpr OutStore kMode = decltype(mode)::value;
    constexpr int kRows = kMode == OutStore::kStream ? kStreamSweepRows : kSweepRows;
    sweep_rows<kRows>(
        mask, r0, r1,
        [&](int64_t r, auto n) {
          const int64_t at = r * C;
          if (folded)
            finish_rows<decltype(n)::value, kMode, true>(dy + at, x + at, dx + at, p, q, s, mh, C);
          else
            finish_rows<decltype(n)::value, kMode, false>(dy + at, x + at, dx + at, p, q, s, mh,
                                                          C);
        },
        masked);
    if constexpr (kMode == OutStore::kStream) simd::stream_fence();  // before the pool hands dx on
  };
  parallel_for(R, norm_row_grain(C), [&](int64_t r0, int64_t r1) {
    if (mode == OutStore::kStream)
      rows(r0, r1, std::integral_constant<OutStore, OutStore::kStream>{});
    else if (mode == OutStore::kAdd)
      blocks_last_first(r0, r1, C, kSweepRows, [&](int64_t b0, int64_t b1) {
        rows(b0, b1, std::integral_constant<OutStore, OutStore::kAdd>{});
      });
    else
      blocks_last_first(r0, r1, C, kSweepRows, [&](int64_t b0, int64_t b1) {
        rows(b0, b1, std::integral_constant<OutStore, OutStore::kWrite>{});
      });
  });
}

NormReference batchnorm_reference(const Tensor& x, const Tensor& mask, const Tensor& gamma,
                                  const Tensor& beta, const Tensor& dy, double eps, bool training,
                                  const Tensor& running_mean, const Tensor& running_var) {
  const int64_t C = x.size(-1);
  const int64_t R = x.numel() / C;
  const float* px = x.data();
  auto ok = [&](int64_t r) { return !mask.defined() || mask.data()[r] != 0.0f; };
  int64_t n = 0;
  for (int64_t r = 0; r < R; ++r) n += ok(r);
  NormReference ref;
  ref.mean.assign(C, 0.0);
  ref.var.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    if (training) {
      double m = 0.0, v = 0.0;
      for (int64_t r = 0; r < R; ++r)
        if (ok(r)) m += px[r * C + c];
      m /= n;
      for (int64_t r = 0; r < R; ++r)
        if (ok(r)) v += (px[r * C + c] - m) * (px[r * C + c] - m);
      ref.mean[c] = m;
      ref.var[c] = v / n;
    } else {
      ref.mean[c] = running_mean.data()[c];
      ref.var[c] = running_var.data()[c];
    }
  }
  ref.y.assign(R * C, 0.0);
  const bool back = dy.defined();
  if (back) {
    ref.dx.assign(R * C, 0.0);
    ref.dgamma.assign(C, 0.0);
    ref.dbeta.assign(C, 0.0);
  }
  for (int64_t c = 0; c < C; ++c) {
    const double rs = 1.0 / std::sqrt(ref.var[c] + eps);
    const double g = gamma.defined() ? gamma.data()[c] : 1.0;
    const double b = beta.defined() ? beta.data()[c] : 0.0;
    double sdy = 0.0, sdyxh = 0.0;
    for (int64_t r = 0; r < R; ++r) {
      if (!ok(r)) continue;
      const double xh = (px[r * C + c] - ref.mean[c]) * rs;
      ref.y[r * C + c] = xh * g + b;
      if (back) {
        sdy += dy.data()[r * C + c];
        sdyxh += dy.data()[r * C + c] * xh;
      }
    }
    if (!back) continue;
    ref.dbeta[c] = sdy;
    ref.dgamma[c] = sdyxh;
    for (int64_t r = 0; r < R; ++r) {
      if (!ok(r)) continue;
      const double xh = (px[r * C + c] - ref.mean[c]) * rs;
      const double d = dy.data()[r * C + c];
      ref.dx[r * C + c] = training ? g * rs * (d - sdy / n - xh * sdyxh / n) : g * rs * d;
    }
  }
  return ref;
}

}  // namespace kernels

int64_t count_valid(const Tensor& mask, int64_t rows) {
  if (!mask.defined()) return rows;
  int64_t n = 0;
  const float* m = mask.data();
  for (int64_t r = 0; r < mask.numel(); ++r) n += m[r] != 0.0f;
  return n;
}

void check_batch_norm_inputs(const Tensor& x, const Tensor& mask, const Tensor& weight,
                             const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, float eps) {
  if (!x.defined()) throw ShapeError("batch_norm: called with an undefined input");
  if (x.dim() < 2)
    throw ShapeError("batch_norm: expected an input of shape (N, C) or (B, T, C), got " +
                     shape_str(x.shape()));
  const int64_t C = x.size(-1);
  auto check_vec = [&](const Tensor& t, const char* what) {
    if (t.defined() && t.numel() != C)
      throw ShapeError(std::string("batch_norm: ") + what + " of shape " + shape_str(t.shape()) +
                       " does not match the " + std::to_string(C) + " features of input " +
                       shape_str(x.shape()));
  };
  check_vec(weight, "weight");
  check_vec(bias, "bias");
  check_vec(running_mean, "running_mean");
  check_vec(running_var, "running_var");
  if (mask.defined()) {
    const Shape expect(x.shape().begin(), x.shape().end() - 1);
    if (mask.shape() != expect)
      throw ShapeError("batch_norm: mask of shape " + shape_str(mask.shape()) +
                       " does not match input " + shape_str(x.shape()) + " (expected " +
                       shape_str(expect) + ")");
  }
  if (!(eps > 0.0f)) throw ValueError("batch_norm: eps must be > 0, got " + std::to_string(eps));
}

Tensor batch_norm(const Tensor& x, const Tensor& mask, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  float momentum, float eps) {
  check_batch_norm_inputs(x, mask, weight, bias, running_mean, running_var, eps);
  const int64_t C = x.size(-1);
  const int64_t R = x.numel() / std::max<int64_t>(1, C);
  const Shape feat{C};
  const int64_t n = count_valid(mask, R);

  Tensor mean = Tensor::empty(feat), mean_lo = Tensor::empty(feat), rstd = Tensor::empty(feat);
  if (training) {
    if (n <= 1)
      throw ValueError("batch_norm: expected more than 1 value per channel when training, got "
                       "input of shape " + shape_str(x.shape()) +
                       (mask.defined() ? " with " + std::to_string(n) + " valid position(s)" : "") +
                       " (use a larger batch, LayerNorm, or eval mode)");
    Tensor var = Tensor::empty(feat);
    kernels::batchnorm_stats(x.data(), mask.defined() ? mask.data() : nullptr, R, C, eps,
                             mean.data(), mean_lo.data(), var.data(), rstd.data());
    if (running_mean.defined() && running_var.defined()) {
      // PyTorch's convention: momentum weights the new value; running_var is unbiased.
      const double m = momentum, unbias = static_cast<double>(n) / static_cast<double>(n - 1);
      float* rm = Tensor(running_mean).data();
      float* rv = Tensor(running_var).data();
      for (int64_t c = 0; c < C; ++c) {
        const double bm = static_cast<double>(mean.data()[c]) + mean_lo.data()[c];
        rm[c] = static_cast<float>((1.0 - m) * rm[c] + m * bm);
        rv[c] = static_cast<float>((1.0 - m) * rv[c] + m * var.data()[c] * unbias);
      }
    }
  } else {
    if (!running_mean.defined() || !running_var.defined())
      throw ValueError("batch_norm: evaluation mode needs running_mean and running_var");
    for (int64_t c = 0; c < C; ++c) {
      mean.data()[c] = running_mean.data()[c];
      mean_lo.data()[c] = 0.0f;
      rstd.data()[c] = static_cast<float>(
          1.0 / std::sqrt(std::max(0.0, static_cast<double>(running_var.data()[c])) + eps));
    }
  }

  Tensor y = Tensor::empty(x.shape());
  const float* pm = mask.defined() ? mask.data() : nullptr;
  kernels::batchnorm_apply(x.data(), pm, weight.defined() ? weight.data() : nullptr,
                           bias.defined() ? bias.data() : nullptr, mean.data(), mean_lo.data(),
                           rstd.data(), R, C, y.data());
  if (needs_grad({&x, &weight, &bias})) {
    record(y, "batch_norm", {x, weight, bias},
           [x, mask, weight, mean, mean_lo, rstd, R, C, n, training](const Tensor& dy,
                                                                     GradSink& sink) {
             const kernels::NormGrads g = kernels::norm_grad_targets(sink);
             kernels::batchnorm_backward(dy.data(), x.data(),
                                         mask.defined() ? mask.data() : nullptr,
                                         weight.defined() ? weight.data() : nullptr, mean.data(),
                                         mean_lo.data(), rstd.data(), R, C, n, training, g);
           });
  }
  return y;
}

}  // namespace nl
