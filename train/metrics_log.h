// The metrics files of a run folder: metrics.jsonl (one JSON object per event: step, split,
// loss, accuracy or mse, ..., and wall-clock fields under "timing" so runs can be compared
// without them) and metrics.csv (the same events as a table). On resume the files are cut
// back to the checkpoint's step, so the resumed run appends exactly what an uninterrupted
// run would have written. That cut is written to temporary files renamed over the old ones,
// so a run killed at any moment keeps whole files; a write error (disk full, file size limit)
// is a DataError naming the file.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "core/config_reader.h"

namespace nl {

class MetricsLog {
 public:
  // Opens (creating or truncating) the files in `dir`. With keep_up_to_step >= 0, existing
  // records with step <= keep_up_to_step are kept and later ones dropped.
  MetricsLog(const std::string& dir, int64_t keep_up_to_step = -1);

  void write(const json& record);

  // The CSV columns, in order; a record's missing fields are left empty.
  static const std::vector<std::string>& csv_columns();
  // Reads every record of a metrics.jsonl file.
  static std::vector<json> read_jsonl(const std::string& path);

 private:
  static std::string csv_row(const json& record);
  void check(const std::ofstream& f, const std::string& path) const;
  std::string jsonl_path_, csv_path_;
  std::ofstream jsonl_, csv_;
};

}  // namespace nl
