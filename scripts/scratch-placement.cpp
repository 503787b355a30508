// Where the LayerNorm backward's per-chunk dgamma/dbeta partials sit, four ways, alternated
// call by call (docs/performance-history.md, eighth round). No normlab code: the kernel's row loop
// reduced to its loads and stores (pass 1 over two rows: the row sums and the partials' load,
// add and store; pass 2 per row: dx from L1, streamed when the arrays are 16 MiB or more, as
// the kernel did then; 8 MiB since the twenty-third round). Only the address of the partials
// buffer differs between the variants:
//   1. at malloc's usual 16 bytes past a line, every thread's slice next to the other's
//      (std::vector, as before the eighth round): each 64-byte access straddles two lines, and
//      at 2 threads the two slices share the line at their boundary;
//   2. on a cache line, slices a whole number of lines long (normlab's Scratch);
//   3. as 2, and 2048 bytes past x in the low 12 address bits (Scratch next to rows that are
//      whole 4 KiB pages: C a multiple of 1024);
//   4. as 2, but 64 bytes past x in the low 12 bits: the loads of the next columns of a row
//      whose low bits match a pending partial store wait for it ("4K aliasing").
//
//   g++ -O2 -march=native -std=c++20 scripts/scratch-placement.cpp -o /tmp/scratch-placement -lpthread
//   /tmp/scratch-placement 8192 1024 [reps=40] [threads=1]
//
// Needs AVX-512 (written with its intrinsics).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "ln-backward-pattern.h"

namespace {

using ln_pattern::alloc;
using ln_pattern::pass1;
using ln_pattern::pass2;

// `from` moved forward to the first address with the given low 12 bits relative to `rows`.
float* at_offset(float* from, const float* rows, uintptr_t bytes_past_rows) {
  const uintptr_t have =
      (reinterpret_cast<uintptr_t>(from) - reinterpret_cast<uintptr_t>(rows)) % 4096;
  return from + (bytes_past_rows - have) % 4096 / sizeof(float);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s R C [reps=40] [threads=1]\n", argv[0]);
    return 2;
  }
  const long R = std::atol(argv[1]) / 4 * 4, C = std::atol(argv[2]) / 16 * 16;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 40;
  const int threads = argc > 4 && std::atoi(argv[4]) == 2 ? 2 : 1;
  const bool stream = R * C * sizeof(float) >= (size_t{16} << 20);  // the kernels' rule
  float *x = alloc(R * C), *dy = alloc(R * C), *dx = alloc(R * C);
  float* g = alloc(C);
  // One pool for the partials buffer: 2 threads x [dgamma | dbeta] x C, plus room to move it.
  std::vector<float> pool(4 * C + 2048 + 64);
  float* line = pool.data() + (16 - reinterpret_cast<uintptr_t>(pool.data()) % 64 / 4) % 16;
  struct Variant {
    const char* name;
    float* partials;
  };
  const Variant variants[] = {
      {"16 bytes past a line, slices adjacent (before)", line + 4},
      {"on a cache line (Scratch)", line},
      {"on a line, 2048 bytes past x mod 4096 (Scratch, C % 1024 == 0)", at_offset(line, x, 2048)},
      {"on a line, 64 bytes past x mod 4096 (aliasing)", at_offset(line, x, 64)},
  };
  // Rows [r0, r1) with thread t's partials (slice t of the buffer).
  auto backward_rows = [&](float* partials, long r0, long r1, int t) {
    float *pdg = partials + 2 * C * t, *pdb = pdg + C;
    std::memset(pdg, 0, 2 * C * sizeof(float));
    for (long r = r0; r < r1; r += 2) {
      float a[2], b[2];
      pass1(x + r * C, x + (r + 1) * C, dy + r * C, dy + (r + 1) * C, g, C, pdg, pdb, a, b);
      for (int i = 0; i < 2; ++i) {
        const bool ahead = stream && r + 2 < r1;
        pass2(x + (r + i) * C, dy + (r + i) * C, g, C, a[i], b[i], dx + (r + i) * C, stream,
              ahead ? x + (r + 2 + i) * C : nullptr, ahead ? dy + (r + 2 + i) * C : nullptr);
      }
    }
    _mm_sfence();
  };
  auto backward = [&](float* partials) {
    if (threads == 1) return backward_rows(partials, 0, R, 0);
    const long half = R / 4 * 2;
    std::thread other([&] { backward_rows(partials, half, R, 1); });
    backward_rows(partials, 0, half, 0);
    other.join();
  };

  const int n = sizeof variants / sizeof variants[0];
  const int inner = static_cast<int>(std::max<long>(1, 4000000 / (R * C)));
  std::vector<std::vector<double>> us(n), ratio(n);
  for (int rep = -1; rep < reps; ++rep) {
    double t[n];
    for (int k = 0; k < n; ++k) {
      const int v = (k + std::max(rep, 0)) % n;  // rotate the order every repetition
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < inner; ++i) backward(variants[v].partials);
      const auto elapsed = std::chrono::steady_clock::now() - t0;
      t[v] = std::chrono::duration<double, std::micro>(elapsed).count() / inner;
    }
    if (rep < 0) continue;  // warm-up
    for (int v = 0; v < n; ++v) {
      us[v].push_back(t[v]);
      ratio[v].push_back(t[0] / t[v]);
    }
  }
  std::printf("LayerNorm backward pattern, %ld x %ld, %d thread(s), dx %s, %d calls each\n", R, C,
              threads, stream ? "streamed" : "stored", reps * inner);
  for (int v = 0; v < n; ++v) {
    std::sort(us[v].begin(), us[v].end());
    std::sort(ratio[v].begin(), ratio[v].end());
    std::printf("  %-66s median %8.1f us  speedup over the first %.3f (quartiles %.3f-%.3f)\n",
                variants[v].name, us[v][reps / 2], ratio[v][reps / 2], ratio[v][reps / 4],
                ratio[v][3 * reps / 4]);
  }
}
