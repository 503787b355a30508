// Reading a sweep folder back (lab/results.h): sweep.json's index, each run's summary.json
// and metrics.jsonl, grouped into cells in grid order. Tolerant by design: a report of a
// half-finished or partly crashed sweep must still be written, so a missing or torn file
// leaves that run without numbers instead of failing the whole report.
#include "lab/results.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "lab/sweep.h"

namespace nl::lab {
namespace fs = std::filesystem;

namespace {

json read_json_file(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return nullptr;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(nullptr) : j;
}

// The train-split records of metrics.jsonl; unparsable lines (a torn last line) are skipped.
std::vector<CurvePoint> read_train_curve(const fs::path& p) {
  std::vector<CurvePoint> out;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json r = json::parse(line, nullptr, false);
    if (r.is_discarded() || !r.is_object() || r.value("split", "") != "train") continue;
    if (!r.contains("loss") || !r["loss"].is_number() || !r.contains("step") || !r["step"].is_number()) continue;
    CurvePoint c;
    c.step = r["step"].get<int64_t>();
    c.loss = r["loss"].get<double>();
    c.wall_s = NAN;
    if (r.contains("timing") && r["timing"].is_object() && r["timing"].contains("wall_s") &&
        r["timing"]["wall_s"].is_number())
      c.wall_s = r["timing"]["wall_s"].get<double>();
    if (std::isfinite(c.loss)) out.push_back(c);
  }
  return out;
}

// The spec as run: SWEEP/NAME/experiment.json (self-contained, profile applied) when there is
// one, else the index's copy with the profile applied. The report needs no base config, so a
// base path that cannot be resolved from here is dropped rather than failing the report.
ExperimentSpec load_spec(const std::string& sweep_dir, const json& entry, const std::string& profile) {
  const std::string name = entry.value("name", "");
  const fs::path as_run = fs::path(sweep_dir) / name / "experiment.json";
  const json j = read_json_file(as_run);
  if (j.is_object()) {
    try {
      return parse_experiment(j, as_run.string());
    } catch (const Error&) {
      // fall through to the index's copy
    }
  }
  if (!entry.contains("spec") || !entry["spec"].is_object())
    throw DataError("'" + sweep_dir + "/sweep.json': experiment '" + name + "' has no spec");
  const json& spec = entry["spec"];
  const std::string origin = sweep_dir + "/sweep.json (experiment " + name + ")";
  const std::string spec_file = entry.value("spec_file", "");
  ExperimentSpec s;
  try {
    s = parse_experiment(spec, origin, fs::path(spec_file).parent_path().string());
  } catch (const Error&) {
    json without_base = spec;
    without_base["base"] = json::object();
    s = parse_experiment(without_base, origin);
  }
  if (!profile.empty() && profile != "full" && s.profiles.count(profile)) s = apply_profile(s, profile);
  return s;
}

RunResultRecord load_run(const std::string& sweep_dir, const json& r) {
  RunResultRecord rec;
  rec.id = r.value("id", "");
  rec.cell_id = r.value("cell_id", rec.id);
  rec.cell = r.contains("cell") && r["cell"].is_object() ? r["cell"] : json::object();
  rec.seed = r.contains("seed") && r["seed"].is_number_integer() ? r["seed"].get<int64_t>() : 0;
  rec.status = r.value("status", "pending");
  if (r.contains("wall_s") && r["wall_s"].is_number()) rec.wall_s = r["wall_s"].get<double>();
  const fs::path dir = fs::path(sweep_dir) / r.value("dir", rec.id);
  rec.dir = dir.string();
  const json summary = read_json_file(dir / "summary.json");
  if (summary.is_object()) {
    const std::string st = summary.value("status", "");
    if (st == "completed" || st == "diverged") rec.status = st;
    if (summary.contains("final") && summary["final"].is_object() && !summary["final"].empty())
      rec.final_metrics = summary["final"];
    if (summary.contains("wall_s") && summary["wall_s"].is_number()) rec.wall_s = summary["wall_s"].get<double>();
  }
  rec.train_curve = read_train_curve(dir / "metrics.jsonl");
  return rec;
}

// A run's value of the metric: its final value when completed, the metric's diverged_value when
// it diverged and the metric has one; none otherwise.
std::optional<double> run_value(const RunResultRecord& r, const MetricSpec& m) {
  if (r.status == "completed") return metric_at(r.final_metrics, m.path);
  if (r.status == "diverged") return m.diverged_value;
  return std::nullopt;
}

}  // namespace

ExperimentResults& ExperimentResults::operator=(const ExperimentResults& o) {
  if (this == &o) return *this;
  spec = o.spec;
  profile = o.profile;
  runs = o.runs;
  cells = o.cells;
  for (CellResult& c : cells)
    for (const RunResultRecord*& p : c.runs) p = runs.data() + (p - o.runs.data());
  return *this;
}

std::optional<double> metric_at(const json& final_metrics, const std::string& path) {
  const json* cur = &final_metrics;
  size_t start = 0;
  while (start <= path.size()) {
    const size_t dot = path.find('.', start);
    const std::string seg = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur->is_object()) {
      const auto it = cur->find(seg);
      if (it == cur->end()) return std::nullopt;
      cur = &*it;
    } else if (cur->is_array()) {
      if (seg.empty() || seg.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
      const size_t i = std::stoul(seg);
      if (i >= cur->size()) return std::nullopt;
      cur = &(*cur)[i];
    } else {
      return std::nullopt;
    }
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  if (!cur->is_number()) return std::nullopt;
  const double v = cur->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

std::vector<double> ExperimentResults::values(const CellResult& cell, const MetricSpec& m) const {
  std::vector<double> out;
  for (const RunResultRecord* r : cell.runs)
    if (auto v = run_value(*r, m)) out.push_back(*v);
  return out;
}

std::map<int64_t, double> ExperimentResults::values_by_seed(const CellResult& cell, const MetricSpec& m) const {
  std::map<int64_t, double> out;
  for (const RunResultRecord* r : cell.runs)
    if (auto v = run_value(*r, m)) out[r->seed] = *v;
  return out;
}

std::vector<ExperimentResults> load_results(const std::string& sweep_dir) {
  const json index = read_sweep_index(sweep_dir);
  const std::string index_path = sweep_dir + "/sweep.json";
  if (!index.contains("experiments") || !index["experiments"].is_array())
    throw DataError("'" + index_path + "' has no \"experiments\" array");
  const std::string sweep_profile = index.value("profile", "");
  std::vector<ExperimentResults> out;
  out.reserve(index["experiments"].size());
  for (const json& e : index["experiments"]) {
    if (!e.is_object()) throw DataError("'" + index_path + "': an experiment entry is not an object");
    ExperimentResults er;
    er.profile = e.value("profile", sweep_profile);
    er.spec = load_spec(sweep_dir, e, er.profile);
    if (!e.value("spec_file", "").empty()) er.spec.spec_file = e.value("spec_file", "");
    if (e.contains("runs") && e["runs"].is_array())
      for (const json& r : e["runs"]) er.runs.push_back(load_run(sweep_dir, r));
    // Cells in the order their first run appears (the sweep writes runs in grid order).
    std::map<std::string, size_t> cell_index;
    for (const RunResultRecord& r : er.runs) {
      auto [it, fresh] = cell_index.emplace(r.cell_id, er.cells.size());
      if (fresh) {
        CellResult c;
        c.cell_id = r.cell_id;
        c.cell = r.cell;
        er.cells.push_back(std::move(c));
      }
      CellResult& c = er.cells[it->second];
      c.runs.push_back(&r);
      if (r.status == "diverged") ++c.diverged;
      else if (r.status == "failed") ++c.failed;
      else if (r.status != "completed") ++c.pending;
    }
    out.push_back(std::move(er));
  }
  return out;
}

}  // namespace nl::lab
