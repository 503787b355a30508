// embedding: gather rows of a weight table by integer ids; the backward scatter-adds the
// output gradient into the rows that were read (an id used twice gets both contributions).
#include <cstring>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "core/ops.h"
#include "core/threading.h"

namespace nl {
namespace {

// The ids, each checked to be a whole number in [0, V), copied into a tensor from the caching
// allocator (kept for the backward; a std::vector here was a fresh 16 KB heap block on every
// step of the LM workloads). ids: any shape; every valid id is exact as a float.
Tensor checked_ids(const Tensor& ids, int64_t V) {
  const int64_t n = ids.numel();
  Tensor out = Tensor::empty({n});
  const float* p = ids.data();
  float* po = out.data();
  for (int64_t i = 0; i < n; ++i) {
    const float v = p[i];
    if (!(v >= 0.0f && v < static_cast<float>(V)) || v != static_cast<float>(static_cast<int64_t>(v))) {
      std::ostringstream msg;
      msg << "embedding: id " << v << " at position " << i << " is out of range for a table of "
          << V << " rows (ids must be whole numbers in [0, " << V << "))";
      throw ValueError(msg.str());
    }
    po[i] = v;
  }
  return out;
}

}  // namespace

// weight: (V,C); ids: S  ->  out: S + (C)
Tensor embedding(const Tensor& weight, const Tensor& ids) {
  if (!weight.defined() || !ids.defined())
    throw ShapeError("embedding: called with an undefined tensor");
  if (weight.dim() != 2)
    throw ShapeError("embedding: weight must be 2-D (V,C), got " + shape_str(weight.shape()) +
                     " with ids " + shape_str(ids.shape()));
  const int64_t V = weight.size(0), C = weight.size(1);
  const Tensor rows = checked_ids(ids, V);
  const float* prow = rows.data();
  Shape out_shape = ids.shape();
  out_shape.push_back(C);
  Tensor out = Tensor::empty(out_shape);
  const float* pw = weight.data();
  float* po = out.data();
  const int64_t n = rows.numel();
  if (C > 0) {
    parallel_for(n, kGrainCheap / C + 1, [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i)
        std::memcpy(po + i * C, pw + static_cast<int64_t>(prow[i]) * C, sizeof(float) * C);
    });
  }
  if (needs_grad({&weight})) {
    record(out, "embedding", {weight}, [rows, C](const Tensor& d, GradSink& g) {
      Tensor& dw = g.grad(0);  // zero-filled when fresh: most rows get no contribution
      const float* pd = d.data();
      float* pg = dw.data();
      const float* prow = rows.data();
      const int64_t n = rows.numel();
      // Threads split the columns, not the ids: two ids may name the same row, and this way
      // no two threads ever add into the same element (and the order of additions is fixed).
      parallel_for(C, std::max<int64_t>(16, kGrainCheap / (n + 1)), [&](int64_t s, int64_t e) {
        for (int64_t i = 0; i < n; ++i) {
          float* dst = pg + static_cast<int64_t>(prow[i]) * C;
          const float* src = pd + i * C;
          for (int64_t j = s; j < e; ++j) dst[j] += src[j];
        }
      });
    });
  }
  return out;
}

}  // namespace nl
