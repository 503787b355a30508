// `normlab explain`: every section is printed, fits 80 columns, its BN/LN statistics agree with
// the printed table, the batch-1 section shows the library's own error, it is deterministic
// per seed, and bad options are rejected (exit 2 from the CLI).
#include "test_paths.h"
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "helpers.h"
#include "lab/explain.h"
#include "lab/explain_table.h"
#include "layers/kernels/batchnorm.h"

using namespace nl;

namespace {

std::string run_explain(lab::ExplainOptions o) {
  std::ostringstream os;
  o.out = &os;
  lab::explain(o);
  return os.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream is(text);
  for (std::string line; std::getline(is, line);) out.push_back(line);
  return out;
}

std::vector<double> numbers(const std::string& text) {
  std::vector<double> out;
  std::istringstream is(text);
  for (double v; is >> v;) out.push_back(v);
  return out;
}

std::string squeeze(const std::string& text) {  // whitespace runs -> one space
  std::string out;
  std::istringstream is(text);
  for (std::string w; is >> w;) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The first table of the output (section 1-2): rows "exK", the LN columns after '|', and the
// "BN mean" / "BN std" rows under it.
struct Parsed {
  std::vector<std::vector<double>> x;
  std::vector<double> ln_mean, ln_std, bn_mean, bn_std;
};
Parsed parse_first_table(const std::string& out) {
  Parsed p;
  bool in_table = false;
  for (const auto& line : lines_of(out)) {
    if (line.rfind("1-2.", 0) == 0) in_table = true;
    if (!in_table) continue;
    if (line.rfind("ex", 0) == 0) {
      const auto bar = line.find('|');
      REQUIRE(bar != std::string::npos);
      p.x.push_back(numbers(line.substr(lab::kLabelWidth, bar - lab::kLabelWidth)));
      const auto st = numbers(line.substr(bar + 1));
      REQUIRE(st.size() == 2);
      p.ln_mean.push_back(st[0]);
      p.ln_std.push_back(st[1]);
    } else if (line.rfind("BN mean", 0) == 0) {
      p.bn_mean = numbers(line.substr(7));
    } else if (line.rfind("BN std", 0) == 0) {
      p.bn_std = numbers(line.substr(6));
      break;
    }
  }
  return p;
}

}  // namespace

TEST_CASE("explain prints every section", "[lab][explain]") {
  lab::ExplainOptions o;
  o.padded = true;
  const std::string out = squeeze(run_explain(o));  // prose is word-wrapped
  for (const char* s :
       {"Terminology", "standardisation", "per feature (neuron), over the batch",
        "1-2. Activations x", "over the batch axis (axis 0), one per feature",
        "over the feature axis (axis 1), one per example", "3. Normalised",
        "BatchNorm, train mode", "LayerNorm, normalized_shape [5]", "4. gamma and beta",
        "BN paper sec. 3", "gives back x", "5. normalized_shape", "TRAILING", "not a number of layers",
        "LN [T, C]", "6. Batch of 1", "BatchNorm in eval mode", "7. Padding", "mask mean",
        "7b. Padded sequences"})
    CHECK(out.find(s) != std::string::npos);
  o.padded = false;
  CHECK(run_explain(o).find("7b.") == std::string::npos);
}

TEST_CASE("explain output fits 80 columns up to 6 features", "[lab][explain]") {
  for (int64_t f = 2; f <= 6; ++f)
    for (int64_t b : {1, 4, 16})
      for (bool padded : {false, true}) {
        lab::ExplainOptions o;
        o.features = f;
        o.batch = b;
        o.padded = padded;
        for (const auto& line : lines_of(run_explain(o))) {
          INFO("features " << f << " batch " << b << ": " << line);
          CHECK(line.size() <= 80);
        }
      }
}

TEST_CASE("explain statistics agree with the printed table", "[lab][explain]") {
  lab::ExplainOptions o;
  o.seed = 7;
  const Parsed p = parse_first_table(run_explain(o));
  REQUIRE(p.x.size() == static_cast<size_t>(o.batch));
  REQUIRE(p.bn_mean.size() == static_cast<size_t>(o.features));
  REQUIRE(p.bn_std.size() == static_cast<size_t>(o.features));
  // The printed table is the input (rounded to 3 decimals): recompute it from the same seed.
  const Tensor x = lab::explain_activations(o);
  for (int64_t r = 0; r < o.batch; ++r)
    for (int64_t c = 0; c < o.features; ++c) CHECK(p.x[r][c] == Approx(x.at({r, c})).margin(5e-4));
  // BN: down each column, biased std. Hand-computed from the printed numbers.
  for (int64_t c = 0; c < o.features; ++c) {
    double s = 0, ss = 0;
    for (int64_t r = 0; r < o.batch; ++r) s += p.x[r][c];
    const double mean = s / o.batch;
    for (int64_t r = 0; r < o.batch; ++r) ss += (p.x[r][c] - mean) * (p.x[r][c] - mean);
    CHECK(p.bn_mean[c] == Approx(mean).margin(1e-3));
    CHECK(p.bn_std[c] == Approx(std::sqrt(ss / o.batch)).margin(1e-3));
  }
  // LN: across each row.
  for (int64_t r = 0; r < o.batch; ++r) {
    double s = 0, ss = 0;
    for (double v : p.x[r]) s += v;
    const double mean = s / o.features;
    for (double v : p.x[r]) ss += (v - mean) * (v - mean);
    CHECK(p.ln_mean[r] == Approx(mean).margin(1e-3));
    CHECK(p.ln_std[r] == Approx(std::sqrt(ss / o.features)).margin(1e-3));
  }
}

TEST_CASE("explain batch-1 section shows the library's BatchNorm error", "[lab][explain]") {
  lab::ExplainOptions o;
  o.features = 4;
  std::string expected;
  try {
    batch_norm(Tensor::ones({1, 4}), Tensor(), Tensor(), Tensor(), Tensor(), Tensor(), true);
  } catch (const ValueError& e) {
    expected = e.what();
  }
  REQUIRE(!expected.empty());
  const std::string out = run_explain(o);
  const auto at = out.find("6. Batch of 1");
  REQUIRE(at != std::string::npos);
  CHECK(squeeze(out.substr(at)).find(squeeze(expected)) != std::string::npos);
  // --batch 1: the whole walkthrough still runs; BN's train-mode tables show the error instead.
  o.batch = 1;
  const std::string one = squeeze(run_explain(o));
  CHECK(one.find(squeeze(expected)) < one.find("6. Batch of 1"));
}

TEST_CASE("explain is deterministic per seed and differs across seeds", "[lab][explain]") {
  lab::ExplainOptions o;
  o.seed = 3;
  const std::string a = run_explain(o), b = run_explain(o);
  CHECK(a == b);
  o.seed = 4;
  const Parsed p3 = parse_first_table(a), p4 = parse_first_table(run_explain(o));
  CHECK(p3.x != p4.x);
  CHECK(p3.bn_mean != p4.bn_mean);
}

TEST_CASE("explain rejects out-of-range options naming the flag", "[lab][explain]") {
  auto msg = [](int64_t batch, int64_t features) {
    lab::ExplainOptions o;
    o.batch = batch;
    o.features = features;
    try {
      lab::validate(o);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(msg(0, 5).find("--batch") != std::string::npos);
  CHECK(msg(17, 5).find("--batch") != std::string::npos);
  CHECK(msg(4, 1).find("--features") != std::string::npos);
  CHECK(msg(4, 9).find("--features") != std::string::npos);
  CHECK(msg(16, 8).empty());
  CHECK(msg(1, 2).empty());
  lab::ExplainOptions bad;
  bad.batch = 0;
  CHECK_THROWS_AS(run_explain(bad), ConfigError);
}

TEST_CASE("normlab explain exits 2 on a bad option and 0 on defaults", "[lab][explain]") {
  const std::string cli = NORMLAB_CLI_PATH;
  auto status = [&](const std::string& args) {
    const int s = std::system((cli + " explain " + args + " >/dev/null 2>&1").c_str());
    return WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  };
  CHECK(status("--batch 0") == 2);
  CHECK(status("--features 9") == 2);
  CHECK(status("") == 0);
}
