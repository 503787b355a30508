// DataLoader: epoch order (shuffle, bucketing, drop_last), batch assembly with padding and
// masks, and the save/restore of its state.
#include "data/loader.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>

#include "core/error.h"

namespace nl {

// ---- state -----------------------------------------------------------------------------------
std::vector<uint64_t> LoaderState::to_vector() const {
  return {epoch, position, rng[0], rng[1], rng[2], rng[3]};
}

LoaderState LoaderState::from_vector(const std::vector<uint64_t>& v) {
  if (v.size() != 6)
    throw ValueError("loader state: expected 6 integers, got " + std::to_string(v.size()));
  LoaderState s;
  s.epoch = v[0];
  s.position = v[1];
  for (int i = 0; i < 4; ++i) s.rng[i] = v[2 + i];
  return s;
}

json LoaderState::to_json() const {
  // The Rng words are full 64-bit values: written as decimal strings so that readers which
  // parse JSON numbers as doubles (most of them) cannot round them.
  json r = json::array();
  for (uint64_t w : rng) r.push_back(std::to_string(w));
  return json{{"epoch", epoch}, {"position", position}, {"rng", r}};
}

LoaderState LoaderState::from_json(const json& j) {
  auto word = [](const json& v) -> uint64_t {
    if (v.is_string()) return std::stoull(v.get<std::string>());
    if (v.is_number_unsigned() || v.is_number_integer()) return v.get<uint64_t>();
    throw ValueError("loader state: expected an integer, got " + v.dump());
  };
  try {
    LoaderState s;
    s.epoch = word(j.at("epoch"));
    s.position = word(j.at("position"));
    const json& r = j.at("rng");
    if (!r.is_array() || r.size() != 4) throw ValueError("loader state: 'rng' needs 4 words");
    for (int i = 0; i < 4; ++i) s.rng[i] = word(r[i]);
    return s;
  } catch (const json::exception& e) {
    throw ValueError(std::string("loader state: ") + e.what());
  } catch (const std::logic_error& e) {  // stoull
    throw ValueError(std::string("loader state: bad integer (") + e.what() + ")");
  }
}

// ---- loader ----------------------------------------------------------------------------------
DataLoader::DataLoader(const Dataset& data, const DatasetInfo& info, const LoaderOptions& options,
                       uint64_t seed)
    : data_(&data), info_(info), opt_(options), rng_(derive_seed(seed, "data/loader")) {
  if (opt_.batch_size < 1)
    throw ValueError("DataLoader: batch_size must be >= 1, got " + std::to_string(opt_.batch_size));
  if (opt_.bucket_batches < 0)
    throw ValueError("DataLoader: bucket_batches must be >= 0, got " +
                     std::to_string(opt_.bucket_batches));
  if (data.empty()) throw ValueError("DataLoader: the split has no examples");
  if (!info_.sequential) {
    const int64_t d = data.length(0) * data.step_dim();
    for (int64_t i = 1; i < data.size(); ++i)
      if (data.length(i) * data.step_dim() != d)
        throw ValueError("DataLoader: flat examples must all have the same size");
  }
  order_.resize(static_cast<size_t>(data.size()));
  start_epoch();
  if (batch_order_.empty())
    throw ValueError("DataLoader: no batch per epoch (" + std::to_string(data.size()) +
                     " examples, batch_size " + std::to_string(opt_.batch_size) +
                     ", drop_last) — lower the batch size");
}

void DataLoader::start_epoch() {
  epoch_rng_ = rng_.state();
  const int64_t n = data_->size();
  const int64_t B = opt_.batch_size;
  std::iota(order_.begin(), order_.end(), int64_t{0});
  if (opt_.shuffle)  // Fisher-Yates
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order_[i], order_[static_cast<int64_t>(rng_.randint(static_cast<uint64_t>(i) + 1))]);
  if (opt_.bucket_batches > 0) {
    // Sort by length within chunks of k batches: batches hold similar lengths (less padding)
    // while the chunking keeps the epoch random. Stable, so ties keep the shuffled order.
    const int64_t chunk = opt_.bucket_batches * B;
    for (int64_t c = 0; c < n; c += chunk)
      std::stable_sort(order_.begin() + c, order_.begin() + std::min(n, c + chunk),
                       [this](int64_t a, int64_t b) { return data_->length(a) < data_->length(b); });
  }
  batch_start_.clear();
  for (int64_t s = 0; s < n; s += B) batch_start_.push_back(s);
  batch_start_.push_back(n);
  int64_t nb = static_cast<int64_t>(batch_start_.size()) - 1;
  if (opt_.drop_last && n % B != 0) --nb;
  batch_order_.resize(static_cast<size_t>(nb));
  std::iota(batch_order_.begin(), batch_order_.end(), int64_t{0});
  if (opt_.bucket_batches > 0 && opt_.shuffle)  // otherwise short batches would come first
    for (int64_t i = nb - 1; i > 0; --i)
      std::swap(batch_order_[i],
                batch_order_[static_cast<int64_t>(rng_.randint(static_cast<uint64_t>(i) + 1))]);
  position_ = 0;
}

std::vector<int64_t> DataLoader::batch_indices(int64_t b) const {
  const int64_t id = batch_order_.at(static_cast<size_t>(b));
  return std::vector<int64_t>(order_.begin() + batch_start_[id], order_.begin() + batch_start_[id + 1]);
}

Batch DataLoader::next() {
  if (epoch_done()) {
    ++epoch_;
    start_epoch();
  }
  const int64_t id = batch_order_[position_++];
  return make_batch(order_.data() + batch_start_[id], batch_start_[id + 1] - batch_start_[id]);
}

Batch DataLoader::make_batch(const int64_t* idx, int64_t B) const {
  const Dataset& d = *data_;
  const int64_t F = d.step_dim();
  Batch batch;
  if (!info_.sequential) {
    // Flat examples: inputs (B, D), targets (B); no time axis, no mask.
    const int64_t D = d.length(idx[0]) * F;
    batch.inputs = Tensor::empty({B, D});
    batch.targets = Tensor::empty({B});
    float* x = batch.inputs.data();
    float* y = batch.targets.data();
    for (int64_t b = 0; b < B; ++b) {
      std::memcpy(x + b * D, d.steps(idx[b]), sizeof(float) * static_cast<size_t>(D));
      y[b] = d.target(idx[b]);
    }
    return batch;
  }

  int64_t T = 0;
  if (opt_.length_mode == LengthMode::fixed) {
    T = d.max_length();
  } else {
    for (int64_t b = 0; b < B; ++b) T = std::max(T, d.length(idx[b]));
  }
  const bool tokens = info_.vocab_size > 0;
  // inputs (B,T) token ids | (B,T,F) features; padding is 0 (token id 0 = padding).
  batch.inputs = tokens ? Tensor::zeros({B, T}) : Tensor::zeros({B, T, F});
  batch.mask = Tensor::zeros({B, T});
  batch.lengths = Tensor::empty({B});
  const bool lm = d.per_step_targets();
  batch.targets = lm ? Tensor::zeros({B, T}) : Tensor::empty({B});
  float* x = batch.inputs.data();
  float* m = batch.mask.data();
  float* len = batch.lengths.data();
  float* y = batch.targets.data();
  const int64_t row = T * (tokens ? 1 : F);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t i = idx[b];
    const int64_t L = d.length(i);
    std::memcpy(x + b * row, d.steps(i), sizeof(float) * static_cast<size_t>(L * F));
    std::fill(m + b * T, m + b * T + L, 1.0f);
    len[b] = static_cast<float>(L);
    if (lm)
      std::memcpy(y + b * T, d.step_targets(i), sizeof(float) * static_cast<size_t>(L));
    else
      y[b] = d.target(i);
  }
  return batch;
}

LoaderState DataLoader::state() const {
  LoaderState s;
  s.epoch = epoch_;
  s.position = position_;
  s.rng = epoch_rng_;
  return s;
}

void DataLoader::set_state(const LoaderState& s) {
  rng_.set_state(s.rng);
  epoch_ = s.epoch;
  start_epoch();  // redraws the saved epoch's order, leaving rng_ where it was then
  if (s.position > batch_order_.size())
    throw ValueError("loader state: position " + std::to_string(s.position) + " is beyond the " +
                     std::to_string(batch_order_.size()) + " batches of an epoch");
  position_ = s.position;
}

// ---- options from the config -----------------------------------------------------------------
LoaderOptions read_loader_options(ConfigReader& cfg) {
  LoaderOptions o;
  o.shuffle = cfg.get_bool("shuffle", true, "reshuffle the training split every epoch");
  o.bucket_batches = cfg.get_int(
      "bucket_batches", 0,
      "bucketing: sort by length within chunks of this many batches, then shuffle the batch "
      "order (less padding); 0 = off",
      0, 1 << 20);
  o.drop_last = cfg.get_bool("drop_last", false, "drop the final partial training batch of each epoch");
  const std::string mode = cfg.get_string(
      "length_mode", "batch",
      "batch: pad each batch to its longest sequence; fixed: pad every batch to the split's "
      "longest sequence",
      {"batch", "fixed"});
  o.length_mode = mode == "fixed" ? LengthMode::fixed : LengthMode::batch;
  cfg.finish();
  return o;
}

}  // namespace nl
