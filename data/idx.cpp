// IDX reading and writing through zlib's gz* interface (which also reads uncompressed files).
#include "data/idx.h"

#include <zlib.h>

#include <filesystem>
#include <limits>

#include "core/error.h"

namespace nl {
namespace {

// Closes the gz handle on every path out.
struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DataError("IDX file '" + path + "': " + what);
}

// Reads exactly n bytes or throws (truncated file / corrupt stream). `before` and `whole`
// describe a read done in parts: bytes of `what` already read, and its whole size.
void read_exact(gzFile f, const std::string& path, void* dst, int64_t n, const char* what,
                int64_t before = 0, int64_t whole = -1) {
  auto* out = static_cast<unsigned char*>(dst);
  int64_t done = 0;
  while (done < n) {
    const unsigned chunk =
        static_cast<unsigned>(std::min<int64_t>(n - done, std::numeric_limits<int>::max() / 2));
    const int got = gzread(f, out + done, chunk);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      fail(path, std::string("corrupt compressed data while reading the ") + what + " (" +
                     (msg ? msg : "zlib error") + ")");
    }
    if (got == 0)
      fail(path, std::string("truncated: the ") + what + " needs " + std::to_string(whole < 0 ? n : whole) +
                     " bytes, the file has only " + std::to_string(before + done));
    done += got;
  }
}

uint32_t big_endian32(const unsigned char* b) {
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

}  // namespace

int64_t IdxArray::item_size() const {
  int64_t s = 1;
  for (size_t i = 1; i < dims.size(); ++i) s *= dims[i];
  return s;
}

IdxArray read_idx(const std::string& path, uint32_t expected_magic, int64_t max_items,
                  const std::string& install_hint) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw DataError("data file '" + path + "' not found" +
                    (install_hint.empty() ? std::string() : " — " + install_hint));
  GzFile gz;
  gz.f = gzopen(path.c_str(), "rb");
  if (!gz.f) fail(path, "cannot be opened");

  unsigned char b[4];
  read_exact(gz.f, path, b, 4, "header");
  IdxArray out;
  out.magic = big_endian32(b);
  if (out.magic != expected_magic)
    fail(path, "bad magic number " + std::to_string(out.magic) + " (expected " +
                   std::to_string(expected_magic) + ")");
  if (((out.magic >> 8) & 0xff) != 0x08) fail(path, "only unsigned-byte IDX data is supported");
  const int ndim = static_cast<int>(out.magic & 0xff);
  if (ndim < 1 || ndim > 4) fail(path, "bad number of dimensions " + std::to_string(ndim));
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    read_exact(gz.f, path, b, 4, "header");
    const int64_t d = big_endian32(b);
    if (d < 1 && i > 0) fail(path, "dimension " + std::to_string(i) + " is 0");
    out.dims.push_back(d);
    // total * d may pass int64 (two 32-bit extents): compare before multiplying.
    if (total > (int64_t{1} << 32) / std::max<int64_t>(d, 1))
      fail(path, "header declares an implausibly large array");
    total *= std::max<int64_t>(d, 1);
  }
  out.items = max_items < 0 ? out.dims[0] : std::min(out.dims[0], max_items);
  // The buffer grows with the data actually read, 1 MiB at a time: a header may declare up
  // to 4 GiB that a (possibly tiny) file does not hold.
  const int64_t n = out.items * out.item_size();
  constexpr int64_t kChunk = int64_t{1} << 20;
  for (int64_t done = 0; done < n; done += kChunk) {
    const int64_t m = std::min(kChunk, n - done);
    out.data.resize(static_cast<size_t>(done + m));
    read_exact(gz.f, path, out.data.data() + done, m, "data", done, n);
  }
  return out;
}

void write_idx_gz(const std::string& path, const std::vector<int64_t>& dims,
                  const std::vector<uint8_t>& data) {
  GzFile gz;
  gz.f = gzopen(path.c_str(), "wb");
  if (!gz.f) throw DataError("cannot write '" + path + "'");
  auto put32 = [&](uint32_t v) {
    const unsigned char b[4] = {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
                                static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
    if (gzwrite(gz.f, b, 4) != 4) throw DataError("write failed: '" + path + "'");
  };
  put32(0x0800u | static_cast<uint32_t>(dims.size()));
  for (int64_t d : dims) put32(static_cast<uint32_t>(d));
  if (!data.empty() &&
      gzwrite(gz.f, data.data(), static_cast<unsigned>(data.size())) != static_cast<int>(data.size()))
    throw DataError("write failed: '" + path + "'");
}

}  // namespace nl
