// safetensors: round trip, exact bytes, a reader written here from the format spec alone, and
// rejection of truncated / malformed files.
#include <unistd.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/safetensors.h"
#include "helpers.h"
#include "safetensors_spec_reader.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("normlab_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

std::vector<unsigned char> file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("safetensors round trip keeps names, shapes, values and metadata", "[safetensors]") {
  const fs::path dir = temp_dir("st_roundtrip");
  const std::string path = (dir / "a.safetensors").string();
  Tensor w = nl::test::rand_tensor({3, 4}, 1, false);
  Tensor b = Tensor::from_vector({1.5f, -2.25f, 0.0f}, {3});
  Tensor s = Tensor::scalar(42.0f);
  Tensor e = Tensor::zeros({0, 5});  // empty tensors are legal in the format
  Tensor r4 = nl::test::rand_tensor({2, 1, 3, 2}, 2, false);
  save_safetensors(path, {{"blocks.0.linear.weight", w}, {"blocks.0.linear.bias", b}, {"step", s},
                          {"empty", e}, {"r4", r4}},
                   {{"format", "normlab"}, {"note", "x"}});
  const SafetensorsContents c = load_safetensors(path);
  REQUIRE(c.tensors.size() == 5);
  REQUIRE(c.metadata.at("format") == "normlab");
  REQUIRE(c.metadata.at("note") == "x");
  REQUIRE(c.at("blocks.0.linear.weight").shape() == Shape{3, 4});
  REQUIRE(c.at("blocks.0.linear.weight").to_vector() == w.to_vector());  // bit-exact
  REQUIRE(c.at("blocks.0.linear.bias").to_vector() == b.to_vector());
  REQUIRE(c.at("step").shape() == Shape{});
  REQUIRE(c.at("step").item() == 42.0f);
  REQUIRE(c.at("empty").shape() == Shape{0, 5});
  REQUIRE(c.at("r4").to_vector() == r4.to_vector());
  REQUIRE_THROWS_AS(c.at("missing"), DataError);
  // No temporary file is left behind.
  int files = 0;
  for (auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  REQUIRE(files == 1);
  fs::remove_all(dir);
}

TEST_CASE("safetensors bytes match the format spec exactly", "[safetensors]") {
  const fs::path dir = temp_dir("st_bytes");
  const fs::path path = dir / "b.safetensors";
  save_safetensors(path.string(), {{"x", Tensor::from_vector({1.0f, -2.0f}, {2})}});
  const std::vector<unsigned char> bytes = file_bytes(path);
  // Header length: 8 bytes little-endian.
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(bytes[i]) << (8 * i);
  REQUIRE(n % 8 == 0);  // header padded so the data is 8-byte aligned
  REQUIRE(bytes.size() == 8 + n + 8);
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<long>(n));
  REQUIRE(header.front() == '{');
  const size_t close = header.find_last_of('}');
  for (size_t i = close + 1; i < header.size(); ++i) REQUIRE(header[i] == ' ');
  const auto h = nlohmann::json::parse(header);
  REQUIRE(h["x"]["dtype"] == "F32");
  REQUIRE(h["x"]["shape"] == nlohmann::json::array({2}));
  REQUIRE(h["x"]["data_offsets"] == nlohmann::json::array({0, 8}));
  // IEEE-754 little-endian: 1.0f = 0x3F800000, -2.0f = 0xC0000000.
  const std::vector<unsigned char> data(bytes.end() - 8, bytes.end());
  REQUIRE(data == std::vector<unsigned char>{0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0});
  fs::remove_all(dir);
}

TEST_CASE("safetensors written by normlab open with an independent spec reader", "[safetensors]") {
  const fs::path dir = temp_dir("st_spec");
  const fs::path path = dir / "c.safetensors";
  Tensor w = nl::test::rand_tensor({5, 3}, 7, false);
  Tensor v = nl::test::rand_tensor({2, 3, 4}, 8, false);
  save_safetensors(path.string(), {{"layer.weight", w}, {"norm.running_var", v}}, {{"k", "v"}});
  const nl::test::SpecFile f = nl::test::read_safetensors_by_spec(path.string());
  REQUIRE(f.error.empty());
  REQUIRE(f.metadata.at("k") == "v");
  REQUIRE(f.tensors.at("layer.weight").shape == std::vector<int64_t>{5, 3});
  REQUIRE(f.tensors.at("layer.weight").values == w.to_vector());
  REQUIRE(f.tensors.at("norm.running_var").shape == std::vector<int64_t>{2, 3, 4});
  REQUIRE(f.tensors.at("norm.running_var").values == v.to_vector());
  fs::remove_all(dir);
}

TEST_CASE("safetensors reader accepts a file built by hand from the spec", "[safetensors]") {
  // Tensors listed out of offset order, metadata last, header padded with spaces: all legal.
  const fs::path dir = temp_dir("st_hand");
  const fs::path path = dir / "d.safetensors";
  std::string header =
      R"({"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"m":"1"}})";
  header.append(5, ' ');
  std::vector<unsigned char> bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<unsigned char>((header.size() >> (8 * i)) & 0xff));
  for (char ch : header) bytes.push_back(static_cast<unsigned char>(ch));
  for (float x : {0.5f, 3.0f, -1.0f}) {
    const uint32_t u = std::bit_cast<uint32_t>(x);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<unsigned char>((u >> (8 * i)) & 0xff));
  }
  write_bytes(path, bytes);
  const SafetensorsContents c = load_safetensors(path.string());
  REQUIRE(c.at("a").to_vector() == std::vector<float>{0.5f, 3.0f});
  REQUIRE(c.at("b").to_vector() == std::vector<float>{-1.0f});
  REQUIRE(c.metadata.at("m") == "1");
  fs::remove_all(dir);
}

TEST_CASE("safetensors reader rejects truncated and malformed files naming the file", "[safetensors]") {
  const fs::path dir = temp_dir("st_bad");
  const fs::path good = dir / "good.safetensors";
  save_safetensors(good.string(), {{"w", nl::test::rand_tensor({4, 4}, 3, false)}});
  const std::vector<unsigned char> bytes = file_bytes(good);
  const fs::path bad = dir / "bad.safetensors";
  // Every truncation point fails cleanly (header length, header, data).
  for (size_t cut : {size_t{0}, size_t{5}, size_t{8}, size_t{20}, bytes.size() - 1}) {
    write_bytes(bad, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
    INFO("cut at " << cut);
    REQUIRE_THROWS_MENTIONING(load_safetensors(bad.string()), "bad.safetensors");
    REQUIRE_THROWS_AS(load_safetensors(bad.string()), DataError);
  }
  // Extra trailing bytes: the tensors no longer cover the buffer.
  auto longer = bytes;
  longer.push_back(0);
  write_bytes(bad, longer);
  REQUIRE_THROWS_MENTIONING(load_safetensors(bad.string()), "bad.safetensors", "cover");
  // A header that is not JSON.
  auto garbled = bytes;
  garbled[8] = 'x';
  write_bytes(bad, garbled);
  REQUIRE_THROWS_MENTIONING(load_safetensors(bad.string()), "bad.safetensors", "JSON");
  // A huge header length.
  auto huge = bytes;
  huge[7] = 0x7f;
  write_bytes(bad, huge);
  REQUIRE_THROWS_AS(load_safetensors(bad.string()), DataError);
  // Missing file.
  REQUIRE_THROWS_MENTIONING(load_safetensors((dir / "nope.safetensors").string()), "nope.safetensors");
  // Bad names on write.
  REQUIRE_THROWS_AS(save_safetensors(bad.string(), {{"__metadata__", Tensor::zeros({1})}}), ValueError);
  REQUIRE_THROWS_AS(save_safetensors(bad.string(), {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({1})}}),
                    ValueError);
  fs::remove_all(dir);
}
