// Reading a run's metrics.jsonl strictly, for the kill tests (train and sweep): every line must
// parse (a torn line fails the test), and the wall-clock fields — the only part of a record that
// may differ between an interrupted and an uninterrupted run — are dropped before comparing.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/config_reader.h"

namespace nl::test {

// The record without "timing" and "wall_s", at any depth.
inline json without_timing(json r) {
  if (r.is_object()) {
    r.erase("timing");
    r.erase("wall_s");
    for (auto& [k, v] : r.items()) v = without_timing(v);
  }
  return r;
}

// Every line of a metrics.jsonl parsed (without timing); a line that does not parse fails.
inline std::vector<json> strict_records(const std::filesystem::path& p) {
  std::vector<json> out;
  std::ifstream in(p);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    INFO(p.string() << " line " << n << ": " << line);
    json r = json::parse(line, nullptr, false);
    REQUIRE_FALSE(r.is_discarded());
    out.push_back(without_timing(r));
  }
  return out;
}

}  // namespace nl::test
