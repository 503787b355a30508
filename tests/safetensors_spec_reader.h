// A safetensors reader for tests, written from the format description alone and sharing no
// code with core/safetensors.cpp: 8-byte little-endian header length, a JSON header, then
// row-major little-endian float32 data at the given offsets. Used to check that normlab's
// files open with "the standard reader's" rules.
#pragma once
#include <bit>
#include <cstdint>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nl::test {

struct SpecTensor {
  std::vector<int64_t> shape;
  std::vector<float> values;
};

struct SpecFile {
  std::string error;  // empty when the file is valid
  std::map<std::string, SpecTensor> tensors;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> names_in_header_order;
};

inline SpecFile read_safetensors_by_spec(const std::string& path) {
  SpecFile f;
  std::ifstream in(path, std::ios::binary);
  const std::vector<unsigned char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (b.size() < 8) return f.error = "shorter than 8 bytes", f;
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(b[i]) << (8 * i);
  if (8 + n > b.size()) return f.error = "header runs past the end", f;
  nlohmann::ordered_json h;
  try {
    h = nlohmann::ordered_json::parse(std::string(b.begin() + 8, b.begin() + 8 + static_cast<long>(n)));
  } catch (...) {
    return f.error = "header is not JSON", f;
  }
  const size_t base = 8 + n;
  uint64_t covered = 0;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) return f.error = "metadata value not a string", f;
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const auto& e = it.value();
    if (e.at("dtype") != "F32") return f.error = "dtype " + e.at("dtype").dump(), f;
    SpecTensor t;
    uint64_t count = 1;
    for (const auto& d : e.at("shape")) {
      t.shape.push_back(d.get<int64_t>());
      count *= d.get<uint64_t>();
    }
    const uint64_t begin = e.at("data_offsets").at(0).get<uint64_t>();
    const uint64_t end = e.at("data_offsets").at(1).get<uint64_t>();
    if (end < begin || base + end > b.size()) return f.error = it.key() + ": offsets out of file", f;
    if (end - begin != count * 4) return f.error = it.key() + ": size does not match shape", f;
    covered += end - begin;
    for (uint64_t i = 0; i < count; ++i) {
      uint32_t u = 0;
      for (int k = 0; k < 4; ++k) u |= static_cast<uint32_t>(b[base + begin + 4 * i + k]) << (8 * k);
      t.values.push_back(std::bit_cast<float>(u));
    }
    f.names_in_header_order.push_back(it.key());
    f.tensors[it.key()] = std::move(t);
  }
  if (base + covered != b.size()) return f.error = "tensors do not cover the data buffer", f;
  return f;
}

}  // namespace nl::test
