// Optimizer base: state slots, the step driver (clip, then per-parameter update) and state dicts.
#include "optim/optimizer.h"

#include <cmath>
#include <set>

#include "core/denormals.h"
#include "core/error.h"
#include "core/threading.h"
#include "optim/clip.h"

namespace nl {

namespace {
constexpr int64_t kLow = int64_t{1} << 24;  // floats hold whole numbers exactly below 2^24
}

Tensor encode_count(int64_t count) {
  if (count < 0) throw ValueError("encode_count: negative count " + std::to_string(count));
  if (count / kLow >= kLow) throw ValueError("encode_count: count too large: " + std::to_string(count));
  return Tensor::from_vector({static_cast<float>(count % kLow), static_cast<float>(count / kLow)}, {2});
}

int64_t decode_count(const Tensor& t, const std::string& name) {
  if (t.shape() != Shape{2})
    throw ShapeError("optimizer state '" + name + "' must have shape (2,), got " + shape_str(t.shape()));
  const float lo = t.data()[0], hi = t.data()[1];
  if (!(lo >= 0 && lo < kLow && hi >= 0 && lo == std::floor(lo) && hi == std::floor(hi)))
    throw ValueError("optimizer state '" + name + "' is not a valid count");
  return static_cast<int64_t>(hi) * kLow + static_cast<int64_t>(lo);
}

Optimizer::Optimizer(NamedParams params, double lr) : lr_(lr), params_(std::move(params)) {
  std::set<std::string> names;
  for (const auto& [n, p] : params_) {
    if (!p.defined()) throw ValueError("optimizer: parameter '" + n + "' is undefined");
    if (!names.insert(n).second) throw ValueError("optimizer: parameter '" + n + "' is given twice");
  }
  set_lr(lr);
  param_steps_.assign(params_.size(), 0);
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) throw ValueError("optimizer: lr must be finite and >= 0, got " + std::to_string(lr));
  lr_ = lr;
}

void Optimizer::set_grad_clip(double max_norm) {
  if (!(max_norm >= 0.0)) throw ValueError("optimizer: grad_clip must be >= 0, got " + std::to_string(max_norm));
  grad_clip_ = max_norm;
}

void Optimizer::add_slot(const std::string& name) {
  std::vector<Tensor> bufs;
  bufs.reserve(params_.size());
  for (const auto& [_, p] : params_) bufs.push_back(Tensor::zeros(p.shape()));
  slots_.emplace_back(name, std::move(bufs));
}

// A parameter of more elements than this is updated in contiguous ranges on the pool's threads
// (the update is element by element: the same bits at any thread count), but only when the
// pool's workers took part in the step that made the gradients. There a weight's slices tend to
// live with the thread whose share of the products touched them (at 2 threads a product split
// over its output features cuts a 256-row weight at row 128, as this loop does): mlp, mlp_ln and
// mlp_bn steps 1.10x faster at 2 threads, and 1.38-1.46x in stretches where the host places the
// two vCPUs far apart (the step had been 2.7x slower there, ~0.5 ms of it this loop reading
// gradients the worker wrote). Where the workers took no part (a batch-4 MLP: every product on
// the calling thread), the parameters live in the caller's cache, and a worker updating half of
// them made those steps 6x slower in such stretches: they stay on the calling thread.
constexpr int64_t kUpdateGrain = int64_t{1} << 14;

void Optimizer::step() {
  // Moments that decay into denormals would make every later update of them ~3x slower on Intel
  // cores (core/denormals.h); flushed, they read 0. Each thread that updates sets the mode.
  const FlushDenormalsScope flush;
  const bool split = num_threads() > 1 && pool_worker_jobs() != worker_jobs_after_step_;
  if (grad_clip_ > 0.0) last_grad_norm_ = clip_grad_norm(params_, grad_clip_);
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].second;
    TensorImpl* g = p.impl()->grad.get();  // no handle copy: the hot loop stays allocation-free
    if (!g) continue;
    const float* gd = g->storage->data() + g->offset;
    float* pd = p.data();
    const int64_t t = ++param_steps_[i];
    if (split) {
      // Two captures (16 bytes): std::function keeps them in place instead of on the heap.
      const struct { size_t i; float* p; const float* g; int64_t t; } param{i, pd, gd, t};
      parallel_for(p.numel(), kUpdateGrain, [this, &param](int64_t b, int64_t e) {
        const FlushDenormalsScope flush_here;
        update(param.i, param.p + b, param.g + b, e - b, param.t, b);
      });
    } else {
      update(i, pd, gd, p.numel(), t, 0);
    }
  }
  worker_jobs_after_step_ = pool_worker_jobs();
}

void Optimizer::zero_grad() {
  for (auto& [_, p] : params_) p.zero_grad();
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  out["step"] = encode_count(step_);
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& n = params_[i].first;
    out[n + ".step"] = encode_count(param_steps_[i]);
    for (const auto& [slot_name, bufs] : slots_) out[n + "." + slot_name] = bufs[i];
  }
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto need = [&](const std::string& key) -> const Tensor& {
    auto it = state.find(key);
    if (it == state.end() || !it->second.defined())
      throw ValueError(type_name() + " load_state_dict: '" + key + "' is missing from the state");
    return it->second;
  };
  // Pass 1: check every key and shape, decode counts.
  const int64_t step = decode_count(need("step"), "step");
  std::vector<int64_t> steps(params_.size());
  size_t expected = 1;
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& n = params_[i].first;
    steps[i] = decode_count(need(n + ".step"), n + ".step");
    ++expected;
    for (const auto& [slot_name, bufs] : slots_) {
      const Tensor& t = need(n + "." + slot_name);
      if (t.shape() != bufs[i].shape())
        throw ShapeError(type_name() + " load_state_dict: '" + n + "." + slot_name + "' has shape " +
                         shape_str(t.shape()) + " in the state but the parameter has " +
                         shape_str(bufs[i].shape()));
      ++expected;
    }
  }
  if (state.size() != expected) {
    for (const auto& [k, _] : state) {
      auto mine = state_dict();
      if (!mine.count(k))
        throw ValueError(type_name() + " load_state_dict: unexpected key '" + k +
                         "' (a state of another optimizer type or model?)");
    }
  }
  // Pass 2: copy.
  step_ = step;
  param_steps_ = steps;
  for (size_t i = 0; i < params_.size(); ++i)
    for (auto& [slot_name, bufs] : slots_) {
      const Tensor& src = state.at(params_[i].first + "." + slot_name);
      if (!bufs[i].same(src)) bufs[i].copy_(src);
    }
}

}  // namespace nl
