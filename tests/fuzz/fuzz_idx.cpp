// Fuzz target: the IDX reader (Fashion-MNIST's format), plain and gzip. The first byte picks
// the mode: even -> the rest is the file as is (plain, or a gzip stream if it starts with
// one); odd -> the rest is gzip-compressed first, so the IDX parser sees arbitrary content
// behind a valid gzip stream. Both image (2051) and label (2049) magics are tried.
#include <zlib.h>

#include <cstdint>

#include "core/error.h"
#include "data/idx.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string path;
  if (data[0] % 2 == 0) {
    path = nl::fuzz::write_file("data.idx", data + 1, size - 1);
  } else {
    path = (nl::fuzz::scratch_dir() / "data.idx.gz").string();
    gzFile f = gzopen(path.c_str(), "wb");
    if (!f) return 0;
    if (size > 1) gzwrite(f, data + 1, static_cast<unsigned>(size - 1));
    gzclose(f);
  }
  for (uint32_t magic : {2051u, 2049u}) {
    try {
      nl::IdxArray a = nl::read_idx(path, magic, 1000);
      (void)a.item_size();
    } catch (const nl::Error&) {
    }
  }
  return 0;
}
