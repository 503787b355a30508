// safetensors writer and validating reader (format described in core/safetensors.h).
#include "core/safetensors.h"

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_depth.h"

namespace nl {

// The float data is written as the host stores it; normlab targets little-endian hosts.
static_assert(std::endian::native == std::endian::little,
              "safetensors I/O assumes a little-endian host");

namespace {

using ojson = nlohmann::ordered_json;
constexpr uint64_t kMaxHeader = 100u * 1024 * 1024;  // same bound as the reference reader

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw DataError("safetensors file '" + path + "': " + what);
}

}  // namespace

bool SafetensorsContents::contains(const std::string& name) const {
  for (const auto& [n, _] : tensors)
    if (n == name) return true;
  return false;
}

const Tensor& SafetensorsContents::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  throw DataError("safetensors: no tensor named '" + name + "'");
}

// ---- writing ---------------------------------------------------------------------------------
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  ojson header = ojson::object();
  if (!metadata.empty()) {
    ojson meta = ojson::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw ValueError("save_safetensors: invalid tensor name '" + name + "'");
    if (header.contains(name)) throw ValueError("save_safetensors: duplicate tensor name '" + name + "'");
    if (!t.defined()) throw ValueError("save_safetensors: tensor '" + name + "' is undefined");
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * sizeof(float);
    header[name] = {{"dtype", "F32"}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Pad with spaces so the data starts 8-byte aligned (as the reference writer does).
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);

  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw DataError("cannot write '" + tmp + "': " + std::strerror(errno));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const auto& [name, t] : tensors) {
    if (!ok) break;
    const size_t n = static_cast<size_t>(t.numel());
    // an empty tensor has no buffer (data() is null): fwrite must not see it
    ok = n == 0 || std::fwrite(t.data(), sizeof(float), n, f) == n;
  }
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw DataError("cannot write safetensors file '" + path + "': " + why);
  }
}

// ---- reading ---------------------------------------------------------------------------------
SafetensorsContents load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot open safetensors file '" + path + "'");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 8) bad(path, "truncated: " + std::to_string(bytes.size()) + " bytes, no header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  if (n > kMaxHeader) bad(path, "header length " + std::to_string(n) + " is implausibly large");
  if (n > bytes.size() - 8)
    bad(path, "truncated: header length " + std::to_string(n) + " but only " +
                  std::to_string(bytes.size() - 8) + " bytes follow");
  if (json_too_deep(std::string_view(bytes.data() + 8, n)))
    bad(path, "header nested too deeply (limit " + std::to_string(kMaxJsonDepth) + ")");
  ojson header;
  try {
    header = ojson::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  } catch (const ojson::exception& e) {  // syntax, or a number beyond the range of a double
    bad(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!header.is_object()) bad(path, "header is not a JSON object");
  const uint64_t buffer_size = bytes.size() - 8 - n;
  const char* buffer = bytes.data() + 8 + n;

  SafetensorsContents out;
  struct Entry {
    uint64_t begin, end;
    std::string name;
    Shape shape;
  };
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const ojson& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) bad(path, "__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) bad(path, "__metadata__ value of '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad(path, "entry '" + name + "' lacks dtype, shape or data_offsets");
    if (v["dtype"] != "F32") bad(path, "tensor '" + name + "' has dtype " + v["dtype"].dump() + "; only F32 is supported");
    Entry e{0, 0, name, {}};
    int64_t numel = 1;
    if (!v["shape"].is_array()) bad(path, "tensor '" + name + "': shape is not an array");
    for (const ojson& d : v["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        bad(path, "tensor '" + name + "': bad extent " + d.dump());
      const int64_t x = d.get<int64_t>();
      if (x > 0 && numel > std::numeric_limits<int64_t>::max() / 4 / x)
        bad(path, "tensor '" + name + "': shape too large");
      numel *= x;
      e.shape.push_back(x);
    }
    const ojson& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad(path, "tensor '" + name + "': data_offsets must be two non-negative integers");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end || e.end > buffer_size)
      bad(path, "truncated or bad offsets: tensor '" + name + "' spans [" + std::to_string(e.begin) +
                    ", " + std::to_string(e.end) + ") of a " + std::to_string(buffer_size) + "-byte buffer");
    if (e.end - e.begin != static_cast<uint64_t>(numel) * 4)
      bad(path, "tensor '" + name + "': " + std::to_string(e.end - e.begin) + " bytes for " +
                    std::to_string(numel) + " float32 values");
    entries.push_back(std::move(e));
  }
  // The tensors must tile the buffer exactly: no gaps, no overlaps, nothing left over.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  for (const Entry& e : entries) {
    if (e.begin != expect) bad(path, "tensor '" + e.name + "' starts at byte " + std::to_string(e.begin) +
                                         ", expected " + std::to_string(expect) + " (gap or overlap)");
    expect = e.end;
  }
  if (expect != buffer_size)
    bad(path, "buffer has " + std::to_string(buffer_size) + " bytes but tensors cover " + std::to_string(expect));
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape);
    if (e.end > e.begin) std::memcpy(t.data(), buffer + e.begin, e.end - e.begin);
    out.tensors.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace nl
