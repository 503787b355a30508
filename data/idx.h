// IDX files (LeCun's MNIST format, also Fashion-MNIST's), optionally gzip-compressed, read with
// zlib. Header: a big-endian magic 0x0000TTNN (TT = 0x08 unsigned bytes, NN = number of dims),
// then NN big-endian uint32 extents, then the data row-major.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nl {

struct IdxArray {
  uint32_t magic = 0;
  std::vector<int64_t> dims;  // as in the header (dims[0] = item count of the file)
  int64_t items = 0;          // items actually read (<= dims[0])
  std::vector<uint8_t> data;  // items * prod(dims[1:]) bytes
  int64_t item_size() const;  // prod(dims[1:])
};

// Reads `path` (.gz or plain) and checks its magic against `expected_magic` (2051 = images
// (N,rows,cols), 2049 = labels (N)). Reads at most `max_items` items (-1 = all). Any problem
// (missing file, bad magic, impossible sizes, truncated data, corrupt gzip stream) throws a
// DataError naming the file; `install_hint` (e.g. "apt-get install dataset-fashion-mnist") is
// added to the message when the file does not exist.
IdxArray read_idx(const std::string& path, uint32_t expected_magic, int64_t max_items = -1,
                  const std::string& install_hint = "");

// Writes an unsigned-byte IDX file gzip-compressed (for tests). `data` is written as given,
// even when shorter than `dims` declares (tests use that to make truncated files).
void write_idx_gz(const std::string& path, const std::vector<int64_t>& dims,
                  const std::vector<uint8_t>& data);

}  // namespace nl
