// `normlab explain`: the LN-vs-BN worked example, every number produced by the library's own
// BatchNorm / LayerNorm modules (layers/) and their statistics kernels (layers/kernels/).
// Sections: terminology; the table with BN's per-feature and LN's per-example statistics; both
// normalised tables; γ/β; normalized_shape on (B, T, C); batch 1; padding.
#include "lab/explain.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>

#include "core/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "lab/explain_table.h"
#include "layers/batchnorm.h"
#include "layers/layernorm.h"

namespace nl::lab {

namespace {

// Feature j ~ N(kCentre[j], kScale[j]): scales from 0.1 to 20, so one feature dominates each
// example's LN statistics while BN looks at every feature on its own scale.
constexpr double kCentre[kExplainMaxFeatures] = {1, 10, -2, 100, 0, 5, -50, 0.5};
constexpr double kScale[kExplainMaxFeatures] = {1, 5, 0.5, 20, 0.1, 2, 10, 0.2};
// Non-trivial per-feature γ and β for section 4.
constexpr float kGamma[kExplainMaxFeatures] = {2, 0.5, 1.5, 3, 1, 0.25, 4, 2.5};
constexpr float kBeta[kExplainMaxFeatures] = {0.5, -1, 2, 0, 1, -0.5, 3, -2};

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

std::vector<std::string> labels(const std::string& prefix, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(prefix + std::to_string(i));
  return out;
}

void heading(std::ostream& os, const std::string& title) {
  os << "\n" << title << "\n" << std::string(title.size(), '=') << "\n";
}

void say(std::ostream& os, const std::string& text) { os << wrap(text, 80); }

// The library's forward, or the message of the error it throws (batch 1 in train mode).
std::optional<Tensor> try_forward(const std::function<Tensor()>& f, std::string* error) {
  try {
    return f();
  } catch (const ValueError& e) {
    *error = e.what();
    return std::nullopt;
  }
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double m = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    m = std::max(m, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
  return m;
}

BatchNorm make_bn(int64_t C, double momentum = 0.1) {
  BatchNormOptions o;
  o.features = C;
  o.momentum = momentum;
  return BatchNorm(o);
}

LayerNorm make_ln(const Shape& normalized_shape) {
  LayerNormOptions o;
  o.normalized_shape = normalized_shape;
  return LayerNorm(o);
}

// A table with BN's statistics under it and LN's to its right, both of x itself.
// input = true: labelled as BN's / LN's statistics; otherwise (an output table) as the column
// and row statistics that show what the norm did.
AxisStats table_with_stats(std::ostream& os, const Tensor& x, const std::vector<std::string>& rows,
                           bool input = false) {
  const int64_t C = x.size(-1);
  const AxisStats bn = bn_stats(x), ln = ln_stats(x, C);
  TableSpec t;
  t.row_labels = rows;
  t.col_labels = labels("f", C);
  t.right_names = input ? std::vector<std::string>{"LN mean", "LN std"}
                        : std::vector<std::string>{"row mean", "row std"};
  t.right_columns = {ln.mean, ln.std};
  t.bottom_names = input ? std::vector<std::string>{"BN mean", "BN std"}
                         : std::vector<std::string>{"col mean", "col std"};
  t.bottom_rows = {bn.mean, bn.std};
  print_table(os, x, t);
  return bn;
}

void section_table(std::ostream& os, const ExplainOptions& o, const Tensor& x) {
  const std::string B = std::to_string(o.batch), F = std::to_string(o.features);
  heading(os, "1-2. Activations x: " + B + " examples (rows) x " + F + " features (columns)");
  say(os, "A layer's output for a batch, seed " + std::to_string(o.seed) +
              ", features on different scales. Under the table: BatchNorm's statistics, "
              "computed DOWN each column, i.e. over the batch axis (axis 0), one per feature. "
              "Right of it: LayerNorm's, computed ACROSS each row, i.e. over the feature axis "
              "(axis 1), one per example.");
  os << "\n";
  table_with_stats(os, x, labels("ex", o.batch), true);
  os << "\n";
  say(os, "std = sqrt(var + eps), biased variance, eps = 1e-5: the divisor each layer uses.");
  if (o.features >= 4)
    say(os, "The large feature f3 (around 100) dominates every LN row statistic; BN sees each "
            "feature on its own scale.");
}

void section_normalised(std::ostream& os, const ExplainOptions& o, const Tensor& x) {
  const int64_t C = o.features;
  heading(os, "3. Normalised: (x - mean) / std, each along its own axis");
  BatchNorm bn = make_bn(C);  // train mode: this batch's statistics
  std::string error;
  os << "BatchNorm, train mode (columns now mean 0, std 1; rows are not):\n";
  if (auto y = try_forward([&] { return bn.forward(x); }, &error)) {
    const AxisStats cols = table_with_stats(os, *y, labels("ex", o.batch));
    if (*std::min_element(cols.std.begin(), cols.std.end()) < 0.9995)
      say(os, "(A column std below 1.000 is eps at work: that feature's variance is not large "
              "next to eps = 1e-5.)");
  } else {
    os << wrap(error, 80, "  ") << "  (see section 6)\n";
  }
  LayerNorm ln = make_ln({C});
  os << "\nLayerNorm, normalized_shape [" << C << "] (rows now mean 0, std 1; columns are not):\n";
  table_with_stats(os, ln.forward(x), labels("ex", o.batch));
}

void section_affine(std::ostream& os, const ExplainOptions& o, const Tensor& x) {
  const int64_t C = o.features;
  heading(os, "4. gamma and beta: y = gamma * normalised + beta, per feature");
  BatchNorm bn = make_bn(C);
  LayerNorm ln = make_ln({C});
  for (int64_t c = 0; c < C; ++c) {
    bn.weight.data()[c] = ln.weight.data()[c] = kGamma[c];
    bn.bias.data()[c] = ln.bias.data()[c] = kBeta[c];
  }
  std::string line = pad("gamma", kLabelWidth);
  for (int64_t c = 0; c < C; ++c) line += fixed(kGamma[c]);
  os << line << "\n";
  line = pad("beta", kLabelWidth);
  for (int64_t c = 0; c < C; ++c) line += fixed(kBeta[c]);
  os << line << "\n\n";
  std::string error;
  os << "BatchNorm with these gamma/beta (column mean = beta, column std = |gamma|):\n";
  if (auto y = try_forward([&] { return bn.forward(x); }, &error))
    table_with_stats(os, *y, labels("ex", o.batch));
  else
    os << wrap(error, 80, "  ");
  os << "\nLayerNorm with the same gamma/beta (also one per feature):\n";
  table_with_stats(os, ln.forward(x), labels("ex", o.batch));
  os << "\n";
  say(os, "Why they exist: without gamma/beta every output would be forced to mean 0, std 1 "
          "along the norm's axis. With them the layer can represent the identity "
          "(Ioffe & Szegedy 2015, BN paper sec. 3): set gamma = BN std, beta = BN mean.");
  if (o.batch >= 2) {
    const AxisStats s = bn_stats(x);
    for (int64_t c = 0; c < C; ++c) {
      bn.weight.data()[c] = static_cast<float>(s.std[c]);
      bn.bias.data()[c] = static_cast<float>(s.mean[c]);
    }
    os << "  BatchNorm with gamma = std, beta = mean gives back x: max |y - x| = "
       << fixed(max_abs_diff(bn.forward(x), x), 0, 6) << "\n";
  }
}

void section_shape(std::ostream& os, const ExplainOptions& o) {
  constexpr int64_t B = 2, T = 3, C = 4;
  heading(os, "5. normalized_shape on a (B, T, C) = (2, 3, 4) input");
  Rng rng(o.seed ^ 0x5eedULL);
  std::vector<float> v(B * T * C);
  for (int64_t b = 0; b < B; ++b)  // tokens drift with t, so per-token != per-sequence means
    for (int64_t t = 0; t < T; ++t)
      for (int64_t c = 0; c < C; ++c)
        v[(b * T + t) * C + c] = static_cast<float>(round3(2.0 * t + 4.0 * b + rng.normal()));
  const Tensor x = Tensor::from_vector(v, {B, T, C});
  say(os, "2 sequences of 3 tokens with 4 channels each. normalized_shape lists the TRAILING "
          "dims that share one mean/std -- it is not a number of layers. [C] = the last dim "
          "(one mean per token), [T, C] = the last two (one per sequence). BatchNorm instead "
          "takes each channel over all B*T = 6 positions.");
  os << "\n";
  const AxisStats tok = ln_stats(x, C), seq = ln_stats(x, T * C), bn = bn_stats(x);
  std::vector<double> seq_mean, seq_std;
  for (int64_t r = 0; r < B * T; ++r) {  // repeated on each token of the sequence it belongs to
    seq_mean.push_back(seq.mean[r / T]);
    seq_std.push_back(seq.std[r / T]);
  }
  TableSpec t;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < T; ++s) t.row_labels.push_back("b" + std::to_string(b) + " t" + std::to_string(s));
  t.col_labels = labels("c", C);
  t.right_names = {"C:mean", "C:std", "TC:mean", "TC:std"};
  t.right_width = kCellWidth;  // four stat columns: keep the line under 80
  t.right_columns = {tok.mean, tok.std, seq_mean, seq_std};
  t.bottom_names = {"BN mean", "BN std"};
  t.bottom_rows = {bn.mean, bn.std};
  print_table(os, x.reshape({B * T, C}), t);
  os << "\nWhich elements share one mean/std (same letter = same group):\n"
     << pad("", kLabelWidth) << pad("LN [C]", 12) << pad("LN [T, C]", 12) << "BN\n";
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < T; ++s) {
      std::string tok_g, seq_g, bn_g;
      for (int64_t c = 0; c < C; ++c) {
        tok_g += std::string(1, static_cast<char>('a' + b * T + s)) + " ";
        seq_g += std::string(1, static_cast<char>('A' + b)) + " ";
        bn_g += std::string(1, static_cast<char>('w' + c)) + " ";
      }
      bn_g.pop_back();  // no trailing space
      os << pad(t.row_labels[b * T + s], kLabelWidth) << pad(tok_g, 12) << pad(seq_g, 12) << bn_g
         << "\n";
    }
  LayerNorm per_token = make_ln({C}), per_seq = make_ln({T, C});
  const AxisStats after_tok = ln_stats(per_token.forward(x), C);
  const AxisStats after_seq = ln_stats(per_seq.forward(x), C);
  double worst_tok = 0, worst_seq = 0;
  for (int64_t r = 0; r < B * T; ++r) {
    worst_tok = std::max(worst_tok, std::abs(after_tok.mean[r]));
    worst_seq = std::max(worst_seq, std::abs(after_seq.mean[r]));
  }
  os << "\n";
  say(os, "LayerNorm([4]) has gamma/beta of shape " + shape_str(per_token.weight.shape()) +
              "; LayerNorm([3, 4]) of shape " + shape_str(per_seq.weight.shape()) +
              ". Largest |token mean| after LN [C]: " + fixed(worst_tok, 0) +
              "; after LN [T, C]: " + fixed(worst_seq, 0) +
              " (there only each whole sequence has mean 0).");
}

void section_batch1(std::ostream& os, const ExplainOptions& o, const Tensor& x) {
  const int64_t C = o.features;
  heading(os, "6. Batch of 1: the row ex0 alone, shape (1, " + std::to_string(C) + ")");
  const Tensor row = x.slice(0, 0, 1).clone();
  BatchNorm bn = make_bn(C);
  std::string error;
  if (try_forward([&] { return bn.forward(row); }, &error)) throw Error("explain: BN accepted batch 1");
  os << "BatchNorm, train mode, raises (one value per feature: no variance to divide by):\n"
     << wrap(error, 80, "  ");
  // Momentum 1 so that one training pass sets the running statistics to this table's.
  BatchNorm running = make_bn(C, 1.0);
  const bool filled = o.batch >= 2;
  if (filled) running.forward(x);
  running.eval();
  const Tensor y_eval = running.forward(row);
  LayerNorm ln = make_ln({C});
  const Tensor y_ln = ln.forward(row), y_ln_all = ln.forward(x).slice(0, 0, 1).clone();
  os << "\n";
  say(os, filled ? "BatchNorm in eval mode uses running statistics (here from one training pass "
                   "over the table with momentum 1: running_mean = the BN mean above, "
                   "running_var = its unbiased variance) and works; LayerNorm needs no batch:"
                 : "BatchNorm in eval mode uses running statistics (here still their initial "
                   "mean 0, var 1: a batch of 1 cannot fill them) and works; LayerNorm needs "
                   "no batch:");
  TableSpec t;
  t.row_labels = {"x (ex0)", "BN eval", "LN"};
  t.col_labels = labels("f", C);
  std::vector<float> v = row.to_vector();
  for (float f : y_eval.to_vector()) v.push_back(f);
  for (float f : y_ln.to_vector()) v.push_back(f);
  print_table(os, Tensor::from_vector(v, {3, C}), t);
  say(os, "LN of ex0 alone equals row ex0 of the LN table in section 3 (max |diff| = " +
              fixed(max_abs_diff(y_ln, y_ln_all), 0, 6) +
              "): LN never looks at other examples. BN in eval mode is a fixed per-feature "
              "affine map; using it to train at batch 1 stops normalising (docs/experiments.md, pitfalls).");
}

void section_padded_rows(std::ostream& os, const ExplainOptions& o, const Tensor& x) {
  constexpr int64_t P = 2;  // padding rows appended
  const int64_t B = o.batch, C = o.features;
  heading(os, "7. Padding: the table plus " + std::to_string(P) + " all-zero padded rows");
  std::vector<float> v = x.to_vector(), m(B + P, 1.0f);
  v.resize((B + P) * C, 0.0f);
  for (int64_t r = B; r < B + P; ++r) m[r] = 0.0f;
  const Tensor xp = Tensor::from_vector(v, {B + P, C}), mask = Tensor::from_vector(m, {B + P});
  const AxisStats plain = bn_stats(xp), masked = bn_stats(xp, mask), ln = ln_stats(xp, C);
  TableSpec t;
  t.row_labels = labels("ex", B);
  for (int64_t r = 0; r < P; ++r) t.row_labels.push_back("pad");
  t.col_labels = labels("f", C);
  t.right_names = {"LN mean", "LN std"};
  t.right_columns = {ln.mean, ln.std};
  t.bottom_names = {"BN mean", "BN std", "mask mean", "mask std"};
  t.bottom_rows = {plain.mean, plain.std, masked.mean, masked.std};
  print_table(os, xp, t);
  os << "\n";
  say(os, "Unmasked BN (PyTorch's BatchNorm1d) counts the zeros: its mean is pulled toward 0 "
          "and its std changes. Masked BN (forward_masked with mask = 1 for real rows, 0 for "
          "padding) gives the statistics of the real rows only, as in section 1-2. LN's "
          "statistics of the real rows do not change.");
  BatchNorm bn = make_bn(C);
  LayerNorm lnm = make_ln({C});
  std::string error;
  const auto ref = try_forward([&] { return bn.forward(x); }, &error);
  const auto y_plain = try_forward([&] { return bn.forward(xp); }, &error);
  const auto y_mask = try_forward([&] { return bn.forward_masked(xp, mask); }, &error);
  const Tensor ln_ref = lnm.forward(x), ln_pad = lnm.forward(xp).slice(0, 0, B).clone();
  if (ref && y_plain && y_mask)
    say(os, "Outputs of the real rows vs the same rows without padding, max |diff|: BN unmasked " +
                fixed(max_abs_diff(y_plain->slice(0, 0, B).clone(), *ref), 0) + ", BN masked " +
                fixed(max_abs_diff(y_mask->slice(0, 0, B).clone(), *ref), 0) + ", LN " +
                fixed(max_abs_diff(ln_pad, ln_ref), 0) + ". Padded rows: LN std sqrt(eps), output 0, no NaN.");
  else
    os << wrap("BN in train mode on the real rows: " + error, 80, "  ");
}

void section_padded_sequences(std::ostream& os, const ExplainOptions& o) {
  constexpr int64_t B = 3, T = 4, C = 3;
  const int64_t lengths[B] = {4, 2, 1};
  heading(os, "7b. Padded sequences (B, T, C) = (3, 4, 3), lengths 4, 2, 1");
  Rng rng(o.seed ^ 0xbadULL);
  const double centre[C] = {3, -2, 1};
  std::vector<float> v(B * T * C, 0.0f), m(B * T, 0.0f);
  int64_t n_valid = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < lengths[b]; ++t) {
      m[b * T + t] = 1.0f;
      ++n_valid;
      for (int64_t c = 0; c < C; ++c) v[(b * T + t) * C + c] = static_cast<float>(round3(centre[c] + rng.normal()));
    }
  const Tensor x = Tensor::from_vector(v, {B, T, C}), mask = Tensor::from_vector(m, {B, T});
  const AxisStats plain = bn_stats(x), masked = bn_stats(x, mask), tok = ln_stats(x, C);
  TableSpec t;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < T; ++s)
      t.row_labels.push_back("s" + std::to_string(b) + " t" + std::to_string(s) + (s < lengths[b] ? "" : " pad"));
  t.col_labels = labels("c", C);
  t.right_names = {"LN mean", "LN std"};
  t.right_columns = {tok.mean, tok.std};
  t.bottom_names = {"BN mean", "BN std", "mask mean", "mask std"};
  t.bottom_rows = {plain.mean, plain.std, masked.mean, masked.std};
  print_table(os, x.reshape({B * T, C}), t);
  os << "\n";
  say(os, "Unmasked BN takes each channel over all " + std::to_string(B * T) +
              " positions, " + std::to_string(B * T - n_valid) + " of them padding; masked BN "
              "(mask (B, T), 1 = real token) over the " + std::to_string(n_valid) +
              " real tokens only. LN [C] normalises each token alone, so padding never enters "
              "a real token's statistics (padded tokens have std sqrt(eps) and output 0, no NaN).");
  // The real tokens gathered into (n_valid, C): the batch without any padding.
  std::vector<float> real;
  for (int64_t r = 0; r < B * T; ++r)
    if (m[r] != 0.0f) real.insert(real.end(), v.begin() + r * C, v.begin() + (r + 1) * C);
  const Tensor xr = Tensor::from_vector(real, {n_valid, C});
  auto gather = [&](const Tensor& y) {
    std::vector<float> out;
    const std::vector<float> all = y.to_vector();
    for (int64_t r = 0; r < B * T; ++r)
      if (m[r] != 0.0f) out.insert(out.end(), all.begin() + r * C, all.begin() + (r + 1) * C);
    return Tensor::from_vector(out, {n_valid, C});
  };
  BatchNorm bn = make_bn(C);
  LayerNorm ln = make_ln({C});
  const Tensor ref = bn.forward(xr);
  say(os, "Real tokens vs the same tokens without padding, max |diff|: BN unmasked " +
              fixed(max_abs_diff(gather(bn.forward(x)), ref), 0) + ", BN masked " +
              fixed(max_abs_diff(gather(bn.forward_masked(x, mask)), ref), 0) + ", LN [C] " +
              fixed(max_abs_diff(gather(ln.forward(x)), ln.forward(xr)), 0) + ".");
  const AxisStats seq = ln_stats(x, T * C);
  say(os, "LN [T, C] is not padding-safe: sequence s2 (1 real token) gets mean " +
              fixed(seq.mean[2], 0) + " over its T*C = 12 elements, against " +
              fixed(tok.mean[2 * T], 0) + " over its real token (see docs/experiments.md, pitfalls).");
}

}  // namespace

void validate(const ExplainOptions& o) {
  if (o.batch < 1 || o.batch > kExplainMaxBatch)
    throw ConfigError("--batch must be in 1.." + std::to_string(kExplainMaxBatch) + ", got " +
                      std::to_string(o.batch));
  if (o.features < kExplainMinFeatures || o.features > kExplainMaxFeatures)
    throw ConfigError("--features must be in " + std::to_string(kExplainMinFeatures) + ".." +
                      std::to_string(kExplainMaxFeatures) + ", got " + std::to_string(o.features));
  if (o.out == nullptr) throw ConfigError("explain: no output stream");
}

Tensor explain_activations(const ExplainOptions& o) {
  validate(o);
  Rng rng(o.seed);
  std::vector<float> v(o.batch * o.features);
  for (int64_t r = 0; r < o.batch; ++r)
    for (int64_t c = 0; c < o.features; ++c)
      v[r * o.features + c] = static_cast<float>(round3(kCentre[c] + kScale[c] * rng.normal()));
  return Tensor::from_vector(v, {o.batch, o.features});
}

void explain(const ExplainOptions& o) {
  const Tensor x = explain_activations(o);
  NoGradGuard no_grad;  // forward passes only
  std::ostream& os = *o.out;
  os << "LayerNorm vs BatchNorm, worked example (every number from normlab's own layers)\n";
  say(os, "Terminology: \"normalisation\" here means standardisation -- subtract a mean, divide "
          "by a std -- along one axis. BN: one mean/std per feature (neuron), over the batch. "
          "LN: one mean/std per example, over its features.");
  section_table(os, o, x);
  section_normalised(os, o, x);
  section_affine(os, o, x);
  section_shape(os, o);
  section_batch1(os, o, x);
  section_padded_rows(os, o, x);
  if (o.padded) section_padded_sequences(os, o);
  else os << "\n(normlab explain --padded adds padded sequences (B, T, C) with a (B, T) mask.)\n";
}

}  // namespace nl::lab
