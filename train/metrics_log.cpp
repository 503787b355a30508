// metrics.jsonl + metrics.csv writer (see train/metrics_log.h).
#include "train/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/json_depth.h"

namespace nl {

const std::vector<std::string>& MetricsLog::csv_columns() {
  static const std::vector<std::string> cols = {"step", "split", "mode", "loss", "accuracy",
                                                "mse", "lr", "wall_s", "steps_per_s"};
  return cols;
}

std::vector<json> MetricsLog::read_jsonl(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    if (json_too_deep(line))
      throw DataError("'" + path + "' line " + std::to_string(n) + " is nested too deeply (limit " +
                      std::to_string(kMaxJsonDepth) + ")");
    try {
      out.push_back(json::parse(line));
    } catch (const json::exception&) {
      // A torn last line (the process died mid-write) is dropped; anything else is an error.
      if (in.peek() == EOF) break;
      throw DataError("'" + path + "' line " + std::to_string(n) + " is not JSON");
    }
  }
  return out;
}

MetricsLog::MetricsLog(const std::string& dir, int64_t keep_up_to_step)
    : jsonl_path_(dir + "/metrics.jsonl"), csv_path_(dir + "/metrics.csv") {
  std::vector<json> kept;
  if (keep_up_to_step >= 0 && std::filesystem::exists(jsonl_path_))
    for (json& r : read_jsonl(jsonl_path_))
      if (r.value("step", int64_t{0}) <= keep_up_to_step) kept.push_back(std::move(r));
  // The kept records go to temporaries renamed over the old files (metrics.jsonl last: it is
  // the one resume reads), so a kill during the rewrite loses nothing; then append.
  {
    std::ofstream jsonl(jsonl_path_ + ".tmp", std::ios::trunc), csv(csv_path_ + ".tmp", std::ios::trunc);
    for (size_t i = 0; i < csv_columns().size(); ++i) csv << (i ? "," : "") << csv_columns()[i];
    csv << "\n";
    for (const json& r : kept) {
      jsonl << r.dump() << "\n";
      csv << csv_row(r) << "\n";
    }
    jsonl.flush();
    csv.flush();
    check(jsonl, jsonl_path_ + ".tmp");
    check(csv, csv_path_ + ".tmp");
  }
  std::filesystem::rename(csv_path_ + ".tmp", csv_path_);
  std::filesystem::rename(jsonl_path_ + ".tmp", jsonl_path_);
  jsonl_.open(jsonl_path_, std::ios::app);
  csv_.open(csv_path_, std::ios::app);
  check(jsonl_, jsonl_path_);
  check(csv_, csv_path_);
}

void MetricsLog::check(const std::ofstream& f, const std::string& path) const {
  if (!f) throw DataError("cannot write '" + path + "': " + std::strerror(errno));
}

void MetricsLog::write(const json& record) {
  jsonl_ << record.dump() << "\n" << std::flush;
  check(jsonl_, jsonl_path_);
  csv_ << csv_row(record) << "\n" << std::flush;
  check(csv_, csv_path_);
}

std::string MetricsLog::csv_row(const json& r) {
  std::ostringstream row;
  for (size_t i = 0; i < csv_columns().size(); ++i) {
    const std::string& c = csv_columns()[i];
    if (i) row << ",";
    const json* v = nullptr;
    if (r.contains(c)) v = &r[c];
    else if (r.contains("timing") && r["timing"].contains(c)) v = &r["timing"][c];
    if (!v) continue;
    if (v->is_string()) row << v->get<std::string>();
    else row << v->dump();
  }
  return row.str();
}

}  // namespace nl
