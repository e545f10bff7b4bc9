#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <fstream>
#include <functional>
#include <random>

#include "data/npy.hpp"
#include "engine/error.hpp"
#include "tests/file_size_limit.hpp"
#include "tests/support.hpp"
#include "tests/temp_dir.hpp"

namespace latf {
namespace {

namespace fs = std::filesystem;
using data::NpyArray;
using data::NpyType;
using Bytes = std::vector<unsigned char>;

fs::path fixture(const std::string& name) { return fs::path(__FILE__).parent_path() / "data" / "npy" / name; }

Bytes file_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());  // a missing fixture, not a test result
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void put_file(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A fresh directory per test, removed afterwards.
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("latf_npy") {}
};

template <class T>
std::vector<T> values_of(const NpyArray& a) {
  std::vector<T> out(a.bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), a.bytes.data(), a.bytes.size());
  return out;
}

template <class T>
NpyArray make_array(NpyType type, std::vector<std::int64_t> shape, const std::vector<T>& values) {
  NpyArray a;
  a.type = type;
  a.shape = std::move(shape);
  a.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}

bool same_array(const NpyArray& a, const NpyArray& b) {
  return a.type == b.type && a.shape == b.shape && a.bytes == b.bytes;
}

// A file image whose header text is exactly `text` (no padding), for malformed-header cases.
Bytes image_with_header(const std::string& text, const Bytes& payload = {}, int major = 1) {
  const std::size_t start = major == 1 ? 10 : 12;
  Bytes out(start + text.size() + payload.size());
  const unsigned char prelude[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  std::memcpy(out.data(), prelude, 8);
  for (std::size_t i = 8; i < start; ++i) out[i] = static_cast<unsigned char>(text.size() >> (8 * (i - 8)));
  std::copy(text.begin(), text.end(), out.begin() + static_cast<std::ptrdiff_t>(start));
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(start + text.size()));
  return out;
}

std::string dict(const std::string& descr, const std::string& order, const std::string& shape) {
  return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
}

// ---- files written by NumPy ----

TEST(Npy, ReadsFloat32MatrixWrittenByNumpy) {
  const NpyArray a = data::read_npy(fixture("f4_2x3.npy").string());
  EXPECT_EQ(a.type, NpyType::Float32);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(values_of<float>(a), (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
  const Tensor t = data::npy_to_tensor(a);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.to_vector(), values_of<float>(a));
}

TEST(Npy, ReadsFloat64AndConvertsToFloat32) {
  const NpyArray a = data::read_npy(fixture("f8_4.npy").string());
  EXPECT_EQ(a.type, NpyType::Float64);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{4}));
  EXPECT_EQ(values_of<double>(a), (std::vector<double>{0.1, -2.5, 3.0, 1e-300}));
  EXPECT_EQ(data::npy_to_tensor(a).to_vector(), (std::vector<float>{0.1f, -2.5f, 3.0f, 0.0f}));
}

TEST(Npy, ReadsInt32Rank3) {
  const NpyArray a = data::read_npy(fixture("i4_2x2x2.npy").string());
  EXPECT_EQ(a.type, NpyType::Int32);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(values_of<std::int32_t>(a), (std::vector<std::int32_t>{-3, -2, -1, 0, 1, 2, 3, 4}));
  EXPECT_EQ(data::npy_to_integers(a), (std::vector<std::int64_t>{-3, -2, -1, 0, 1, 2, 3, 4}));
  EXPECT_EQ(data::npy_to_tensor(a).to_vector(), (std::vector<float>{-3, -2, -1, 0, 1, 2, 3, 4}));
  EXPECT_EQ(data::npy_to_tensor(a).shape(), (Shape{2, 2, 2}));
}

TEST(Npy, ReadsInt64Labels) {
  const NpyArray a = data::read_npy(fixture("i8_labels_5.npy").string());
  EXPECT_EQ(a.type, NpyType::Int64);
  EXPECT_EQ(data::npy_to_integers(a), (std::vector<std::int64_t>{0, 2, 1, 2, 0}));
}

TEST(Npy, ReadsVersion2And3Headers) {
  const NpyArray v2 = data::read_npy(fixture("f4_v2_4.npy").string());
  EXPECT_EQ(v2.type, NpyType::Float32);
  EXPECT_EQ(v2.shape, (std::vector<std::int64_t>{4}));
  EXPECT_EQ(values_of<float>(v2), (std::vector<float>{1.5f, -0.25f, 8.0f, 0.0f}));
  const NpyArray v3 = data::read_npy(fixture("i8_v3_2x2.npy").string());
  EXPECT_EQ(v3.shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(data::npy_to_integers(v3), (std::vector<std::int64_t>{1, -2, 3, std::int64_t{1} << 40}));
}

TEST(Npy, ReadsScalarEmptyAndRank4) {
  const NpyArray scalar = data::read_npy(fixture("f8_scalar.npy").string());
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.numel(), 1);
  const Tensor s = data::npy_to_tensor(scalar);
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.item(), 3.25f);
  const NpyArray empty = data::read_npy(fixture("f4_empty_0x3.npy").string());
  EXPECT_EQ(empty.shape, (std::vector<std::int64_t>{0, 3}));
  EXPECT_TRUE(empty.bytes.empty());
  EXPECT_EQ(data::npy_to_tensor(empty).shape(), (Shape{0, 3}));
  const NpyArray four = data::read_npy(fixture("f4_1x2x1x3.npy").string());
  EXPECT_EQ(data::npy_to_tensor(four).shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(values_of<float>(four), (std::vector<float>{0, 1, 2, 3, 4, 5}));
}

// NumPy allows any extents beside a zero one; the array is empty either way.
TEST(Npy, EmptyArraysWithHugeExtents) {
  const Bytes fine = image_with_header(dict("<f4", "False", "(1099511627776, 0)"));
  const NpyArray a = data::parse_npy(fine.data(), fine.size(), "fine");
  EXPECT_EQ(a.numel(), 0);
  EXPECT_EQ(data::npy_to_tensor(a).shape(), (Shape{1099511627776, 0}));
  const Bytes huge = image_with_header(dict("<f8", "False", "(4611686018427387904, 1099511627776, 0)"));
  const NpyArray b = data::parse_npy(huge.data(), huge.size(), "huge");
  EXPECT_EQ(b.numel(), 0);
  EXPECT_TRUE(data::npy_to_integers(b).empty());
  testing::expect_invalid_argument_all([&] { data::npy_to_tensor(b); }, {"too large for a tensor"});
}

// The writer's header is byte for byte NumPy's, in all three format versions.
TEST(Npy, SerializerReproducesNumpyFilesExactly) {
  const std::vector<std::pair<std::string, int>> files = {
      {"f4_2x3.npy", 1},       {"f8_4.npy", 1},     {"i4_2x2x2.npy", 1},   {"i8_labels_5.npy", 1},
      {"f8_scalar.npy", 1},    {"f4_empty_0x3.npy", 1}, {"f4_1x2x1x3.npy", 1}, {"f4_v2_4.npy", 2},
      {"i8_v3_2x2.npy", 3}};
  for (const auto& [name, version] : files) {
    const Bytes original = file_bytes(fixture(name));
    const NpyArray a = data::parse_npy(original.data(), original.size(), name);
    EXPECT_EQ(data::serialize_npy(a, version), original) << name;
  }
}

TEST(Npy, FloatLabelsMustBeIntegral) {
  EXPECT_EQ(data::npy_to_integers(data::read_npy(fixture("f8_integral_3.npy").string())),
            (std::vector<std::int64_t>{0, 1, 7}));
  testing::expect_invalid_argument_all([] { data::npy_to_integers(data::read_npy(fixture("f8_4.npy").string()), "labels.npy"); },
                 {"labels.npy", "element 0", "not an integer"});
  const NpyArray nan = make_array<float>(NpyType::Float32, {2}, {1.0f, std::nanf("")});
  testing::expect_invalid_argument_all([&] { data::npy_to_integers(nan, "labels"); }, {"element 1", "not an integer"});
  const NpyArray huge = make_array<double>(NpyType::Float64, {1}, {1e19});
  testing::expect_invalid_argument_all([&] { data::npy_to_integers(huge, "labels"); }, {"element 0"});
  const NpyArray edge = make_array<double>(NpyType::Float64, {2}, {-9223372036854775808.0, 9007199254740992.0});
  EXPECT_EQ(data::npy_to_integers(edge),
            (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 9007199254740992}));
}

// ---- round trips ----

struct RoundTripCase {
  NpyType type;
  std::vector<std::int64_t> shape;
};

std::string round_trip_name(const ::testing::TestParamInfo<RoundTripCase>& info) {
  std::string name = std::string(data::npy_descr(info.param.type)).substr(1) + "_rank" +
                     std::to_string(info.param.shape.size());
  for (std::int64_t d : info.param.shape) name += "_" + std::to_string(d);
  return name;
}

class NpyRoundTrip : public ::testing::TestWithParam<RoundTripCase> {};

// Distinct, sign-mixed values of every element type (bytes differ for every element).
NpyArray pattern_array(NpyType type, const std::vector<std::int64_t>& shape) {
  NpyArray a;
  a.type = type;
  a.shape = shape;
  const std::int64_t n = a.numel();
  a.bytes.resize(static_cast<std::size_t>(n) * data::npy_item_size(type));
  for (std::int64_t i = 0; i < n; ++i) {
    unsigned char* at = a.bytes.data() + i * data::npy_item_size(type);
    const double v = (i % 2 ? -1.0 : 1.0) * (static_cast<double>(i) * 1.25 + 0.1);
    if (type == NpyType::Float32) {
      const auto f = static_cast<float>(v);
      std::memcpy(at, &f, 4);
    } else if (type == NpyType::Float64) {
      std::memcpy(at, &v, 8);
    } else if (type == NpyType::Int32) {
      const auto x = static_cast<std::int32_t>(i * 7919 - 100000);
      std::memcpy(at, &x, 4);
    } else {
      const std::int64_t x = (i - 3) * 1000003ll * 1000003ll;
      std::memcpy(at, &x, 8);
    }
  }
  return a;
}

TEST_P(NpyRoundTrip, WriteThenReadGivesTheSameArray) {
  const RoundTripCase c = GetParam();
  const NpyArray original = pattern_array(c.type, c.shape);
  TempDir dir;
  const std::string path = (dir.path() / "a.npy").string();
  data::write_npy(path, original);
  const NpyArray back = data::read_npy(path);
  EXPECT_TRUE(same_array(original, back));
  const Bytes image = file_bytes(path);
  EXPECT_EQ(image.size() % 64, original.bytes.size() % 64) << "data must start 64-byte aligned";
  for (int version = 1; version <= 3; ++version) {
    const Bytes v = data::serialize_npy(original, version);
    EXPECT_TRUE(same_array(original, data::parse_npy(v.data(), v.size(), "memory"))) << "version " << version;
  }
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"a.npy"}));
}

std::vector<RoundTripCase> round_trip_cases() {
  const std::vector<std::vector<std::int64_t>> shapes = {{}, {5}, {0}, {3, 4}, {0, 3}, {2, 3, 5}, {2, 1, 3, 2}, {2, 0, 1, 3}};
  std::vector<RoundTripCase> cases;
  for (NpyType type : {NpyType::Float32, NpyType::Float64, NpyType::Int32, NpyType::Int64})
    for (const auto& shape : shapes) cases.push_back({type, shape});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllTypesAndRanks, NpyRoundTrip, ::testing::ValuesIn(round_trip_cases()), round_trip_name);

TEST(Npy, TensorAndVectorWritersRoundTrip) {
  TempDir dir;
  const Tensor f = testing::random_tensor({3, 4}, 11);
  data::write_npy((dir.path() / "f.npy").string(), f);
  const NpyArray fa = data::read_npy((dir.path() / "f.npy").string());
  EXPECT_EQ(fa.type, NpyType::Float32);
  EXPECT_EQ(data::npy_to_tensor(fa).to_vector(), f.to_vector());

  const Tensor d = testing::random_tensor({2, 1, 3}, 12, -5, 5, DType::Float64);
  data::write_npy((dir.path() / "d.npy").string(), d);
  const NpyArray da = data::read_npy((dir.path() / "d.npy").string());
  EXPECT_EQ(da.type, NpyType::Float64);
  EXPECT_EQ(da.shape, (std::vector<std::int64_t>{2, 1, 3}));
  EXPECT_EQ(values_of<double>(da), d.to_double_vector());

  const std::vector<std::int64_t> labels = {4, -1, 0, std::int64_t{1} << 50, 2, 2};
  data::write_npy((dir.path() / "l.npy").string(), labels, {2, 3});
  const NpyArray la = data::read_npy((dir.path() / "l.npy").string());
  EXPECT_EQ(la.type, NpyType::Int64);
  EXPECT_EQ(la.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(data::npy_to_integers(la), labels);

  const std::vector<double> values = {0.5, -1e300, 3.0};
  data::write_npy((dir.path() / "v.npy").string(), values, {3});
  EXPECT_EQ(values_of<double>(data::read_npy((dir.path() / "v.npy").string())), values);

  testing::expect_invalid_argument_all([&] { data::write_npy((dir.path() / "x.npy").string(), values, {2}); }, {"3 values", "(2,)"});
  testing::expect_invalid_argument_all([&] { data::write_npy((dir.path() / "x.npy").string(), labels, {-2, -3}); }, {"negative"});
  testing::expect_invalid_argument_all([&] { data::write_npy((dir.path() / "x.npy").string(), Tensor()); }, {"write_npy tensor"});
  NpyArray rank5 = pattern_array(NpyType::Float32, {1, 1, 1, 1, 2});
  testing::expect_invalid_argument_all([&] { data::write_npy((dir.path() / "x.npy").string(), rank5); }, {"rank 5"});
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"d.npy", "f.npy", "l.npy", "v.npy"}));
}

// ---- malformed input ----

struct BadCase {
  std::string name;
  Bytes bytes;
  std::vector<std::string> fragments;
};

std::vector<BadCase> bad_cases() {
  const Bytes good = file_bytes(fixture("f4_2x3.npy"));
  const Bytes payload(24, 0);
  std::vector<BadCase> cases;
  cases.push_back({"empty", {}, {"empty file"}});
  cases.push_back({"bad_magic", Bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0}, {"bad magic", "not a .npy file"}});
  Bytes wrong_first = good;
  wrong_first[0] = 0x92;
  cases.push_back({"bad_magic_byte", wrong_first, {"bad magic"}});
  cases.push_back({"magic_only_prefix", Bytes{0x93, 'N', 'U'}, {"header truncated"}});
  cases.push_back({"prelude_cut", Bytes(good.begin(), good.begin() + 9), {"header truncated", "10-byte prelude"}});
  Bytes v4 = good;
  v4[6] = 4;
  cases.push_back({"version_4", v4, {"unsupported format version 4.0"}});
  Bytes v11 = good;
  v11[7] = 1;
  cases.push_back({"version_1_1", v11, {"unsupported format version 1.1"}});
  Bytes v0 = good;
  v0[6] = 0;
  cases.push_back({"version_0", v0, {"unsupported format version 0.0"}});
  cases.push_back({"v2_prelude_cut", Bytes{0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 5, 0, 0},
                   {"header truncated", "12-byte prelude"}});
  cases.push_back({"header_cut", Bytes(good.begin(), good.begin() + 60), {"header truncated", "declares 118"}});
  Bytes length_lie = good;
  length_lie[8] = 0xff;
  length_lie[9] = 0xff;
  cases.push_back({"header_length_lie", length_lie, {"header truncated", "declares 65535"}});
  Bytes v2_lie = image_with_header(dict("<f4", "False", "(6,)"), payload, 2);
  v2_lie[11] = 0x80;
  cases.push_back({"v2_header_length_lie", v2_lie, {"header truncated"}});
  cases.push_back({"not_a_dict_list", image_with_header("[1, 2, 3]"), {"header is not a dict"}});
  cases.push_back({"not_a_dict_empty_header", image_with_header(""), {"header is not a dict"}});
  cases.push_back({"dict_unclosed", image_with_header("{'descr': '<f4', "), {"header is not a dict"}});
  cases.push_back({"dict_unterminated_string", image_with_header("{'descr: '<f4'}"), {"header is not a dict"}});
  cases.push_back({"dict_missing_colon", image_with_header("{'descr' '<f4'}"), {"expected ':'"}});
  cases.push_back({"missing_shape", image_with_header("{'descr': '<f4', 'fortran_order': False}"),
                   {"no 'shape' key"}});
  cases.push_back({"missing_descr", image_with_header("{'fortran_order': False, 'shape': ()}"), {"no 'descr' key"}});
  cases.push_back({"missing_fortran_order", image_with_header("{'descr': '<f4', 'shape': ()}"),
                   {"no 'fortran_order' key"}});
  cases.push_back({"unknown_key", image_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1}"),
                   {"unexpected key 'x'"}});
  cases.push_back({"repeated_key",
                   image_with_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}"),
                   {"repeats the key 'descr'"}});
  cases.push_back({"text_after_dict", image_with_header(dict("<f4", "False", "(6,)") + " x\n", payload),
                   {"unexpected text after the dict"}});
  cases.push_back({"big_endian_file", file_bytes(fixture("bad_big_endian.npy")), {"unsupported descr '>f4'"}});
  cases.push_back({"complex_file", file_bytes(fixture("bad_complex.npy")), {"unsupported descr '<c8'"}});
  cases.push_back({"object_file", file_bytes(fixture("bad_object.npy")), {"unsupported descr '|O'"}});
  cases.push_back({"structured_descr",
                   image_with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
                   {"unsupported descr", "structured"}});
  cases.push_back({"unsized_descr", image_with_header(dict("f", "False", "(1,)")), {"unsupported descr 'f'"}});
  cases.push_back({"fortran_file", file_bytes(fixture("bad_fortran_2x3.npy")), {"fortran_order is True"}});
  cases.push_back({"fortran_not_bool", image_with_header(dict("<f4", "0", "(6,)"), payload),
                   {"'fortran_order' must be True or False"}});
  cases.push_back({"rank5_file", file_bytes(fixture("bad_rank5.npy")), {"at most rank 4"}});
  cases.push_back({"negative_shape", image_with_header(dict("<f4", "False", "(-1, 3)"), payload),
                   {"negative 'shape' entry -1"}});
  cases.push_back({"garbage_shape", image_with_header(dict("<f4", "False", "(3, x)"), payload),
                   {"'shape' entry is not an integer"}});
  cases.push_back({"float_shape", image_with_header(dict("<f4", "False", "(2.5,)"), payload),
                   {"'shape' entry is not an integer"}});
  cases.push_back({"shape_not_tuple", image_with_header(dict("<f4", "False", "[6]"), payload),
                   {"'shape' must be a tuple"}});
  cases.push_back({"shape_parenthesised_int", image_with_header(dict("<f4", "False", "(6)"), payload),
                   {"'shape' must be a tuple"}});
  cases.push_back({"shape_entry_too_large",
                   image_with_header(dict("<f4", "False", "(99999999999999999999,)"), payload),
                   {"'shape' entry 99999999999999999999 is too large"}});
  cases.push_back({"numel_overflow", image_with_header(dict("<f4", "False", "(4294967296, 4294967296)"), payload),
                   {"overflows"}});
  cases.push_back({"shape_lies_big", image_with_header(dict("<f8", "False", "(1000000000, 1000)"), payload),
                   {"data truncated", "8000000000000 bytes", "has 24"}});
  cases.push_back({"data_truncated", Bytes(good.begin(), good.end() - 1), {"data truncated", "needs 24 bytes", "has 23"}});
  Bytes longer = good;
  longer.push_back(0);
  cases.push_back({"data_too_long", longer, {"1 unexpected bytes after the data"}});
  return cases;
}

std::string bad_case_name(const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; }

class NpyMalformed : public ::testing::TestWithParam<BadCase> {};

// The in-memory parser and the file reader reject the input with one and the same message,
// which names the file.
TEST_P(NpyMalformed, IsRejectedWithANamedReason) {
  const BadCase& c = GetParam();
  TempDir dir;
  const std::string path = (dir.path() / (c.name + ".npy")).string();
  put_file(path, c.bytes);
  std::vector<std::string> fragments = c.fragments;
  fragments.push_back("'" + path + "'");
  std::string from_memory, from_file;
  testing::expect_invalid_argument_all(
      [&] {
        try {
          data::parse_npy(c.bytes.data(), c.bytes.size(), path);
        } catch (const InvalidArgument& e) {
          from_memory = e.what();
          throw;
        }
      },
      fragments);
  testing::expect_invalid_argument_all(
      [&] {
        try {
          data::read_npy(path);
        } catch (const InvalidArgument& e) {
          from_file = e.what();
          throw;
        }
      },
      fragments);
  EXPECT_EQ(from_memory, from_file);
}

INSTANTIATE_TEST_SUITE_P(Cases, NpyMalformed, ::testing::ValuesIn(bad_cases()), bad_case_name);

TEST(Npy, MissingFileAndDirectoryAreNamed) {
  TempDir dir;
  const std::string missing = (dir.path() / "absent.npy").string();
  testing::expect_invalid_argument_all([&] { data::read_npy(missing); }, {missing, "cannot open", "No such file"});
  testing::expect_invalid_argument_all([&] { data::read_npy(dir.path().string()); }, {dir.path().string(), "not a regular file"});
}

// ---- atomic writes ----

TEST(NpyAtomicWrite, MissingDirectoryFailsAndLeavesNothing) {
  TempDir dir;
  const std::string path = (dir.path() / "no_such_dir" / "a.npy").string();
  testing::expect_invalid_argument_all([&] { data::write_npy(path, Tensor::zeros({2, 2})); }, {path, "cannot create a temporary file"});
  EXPECT_TRUE(dir.entries().empty());
}

TEST(NpyAtomicWrite, ReplacesAnExistingFileWhole) {
  TempDir dir;
  const std::string path = (dir.path() / "a.npy").string();
  data::write_npy(path, Tensor::full({100}, 1.0));
  data::write_npy(path, Tensor::full({2}, 7.0));
  EXPECT_EQ(data::npy_to_tensor(data::read_npy(path)).to_vector(), (std::vector<float>{7, 7}));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"a.npy"}));
}

TEST(NpyAtomicWrite, TargetThatIsADirectoryFailsCleanly) {
  TempDir dir;
  fs::create_directory(dir.path() / "taken");
  const std::string path = (dir.path() / "taken").string();
  testing::expect_invalid_argument_all([&] { data::write_npy(path, Tensor::zeros({3})); }, {path, "rename failed"});
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"taken"}));
  EXPECT_TRUE(fs::is_directory(path));
}

TEST(NpyAtomicWrite, FailedWriteKeepsThePreviousFile) {
  TempDir dir;
  const std::string path = (dir.path() / "a.npy").string();
  data::write_npy(path, Tensor::full({4}, 3.0));
  const Bytes before = file_bytes(path);
  {
    testing::FileSizeLimit limit(4096);
    testing::expect_invalid_argument_all([&] { data::write_npy(path, Tensor::full({100000}, 5.0)); }, {path, "write failed"});
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"a.npy"}));
  data::write_npy(path, Tensor::full({100000}, 5.0));  // the same write succeeds once allowed
  EXPECT_EQ(data::read_npy(path).shape, (std::vector<std::int64_t>{100000}));
}

// ---- fuzzing ----

// Deterministic mutations of valid files: whatever the bytes, parse_npy returns a consistent
// array or throws InvalidArgument; nothing else (no other exception, crash, or huge allocation).
class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next(std::uint64_t bound) { return bound == 0 ? 0 : engine_() % bound; }

  Bytes mutate(Bytes in) {
    const int steps = 1 + static_cast<int>(next(3));
    for (int s = 0; s < steps; ++s) apply(in, static_cast<int>(next(9)));
    return in;
  }

 private:
  void apply(Bytes& b, int kind) {
    static const unsigned char interesting[] = {0, 0xff, 0x7f, 0x80, '(', ')', ',', '-', '9', '\'', '"',
                                                '{', '}', ':', ' ', '\n', 'L', '_', '\\', 'T'};
    switch (kind) {
      case 0:  // bit flips
        for (int i = 0, n = 1 + static_cast<int>(next(4)); i < n && !b.empty(); ++i)
          b[next(b.size())] ^= static_cast<unsigned char>(1u << next(8));
        break;
      case 1:  // one byte set to a random or syntax-significant value
        if (!b.empty()) b[next(b.size())] = next(2) ? interesting[next(sizeof(interesting))] : next(256);
        break;
      case 2:  // truncation
        b.resize(next(b.size() + 1));
        break;
      case 3: {  // insertion
        const std::size_t at = next(b.size() + 1);
        Bytes extra(1 + next(8));
        for (auto& x : extra) x = next(2) ? interesting[next(sizeof(interesting))] : next(256);
        b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), extra.begin(), extra.end());
        break;
      }
      case 4:  // deletion of a range
        if (!b.empty()) {
          const std::size_t at = next(b.size());
          b.erase(b.begin() + static_cast<std::ptrdiff_t>(at),
                  b.begin() + static_cast<std::ptrdiff_t>(std::min(b.size(), at + 1 + next(8))));
        }
        break;
      case 5:  // header-length lie: small delta or arbitrary value
        if (b.size() >= 10) {
          const std::size_t width = b.size() >= 12 && b[6] != 1 ? 4 : 2;
          std::uint64_t length = 0;
          for (std::size_t i = 0; i < width; ++i) length |= std::uint64_t{b[8 + i]} << (8 * i);
          length = next(2) ? length + next(129) - 64 : engine_();
          for (std::size_t i = 0; i < width; ++i) b[8 + i] = static_cast<unsigned char>(length >> (8 * i));
        }
        break;
      case 6: {  // shape lie: a fresh header with made-up extents over the old data
        static const std::int64_t extents[] = {0, 1, 2, 3, 6, 7, 1000, 65536, 1ll << 31, 1ll << 40, 1ll << 62};
        std::string shape = "(";
        const int rank = static_cast<int>(next(6));
        for (int i = 0; i < rank; ++i) shape += std::to_string(extents[next(std::size(extents))]) + ", ";
        shape += ")";
        static const char* const descrs[] = {"<f4", "<f8", "<i4", "<i8", ">f4", "|u1"};
        const Bytes payload(b.size() > 128 ? b.begin() + 128 : b.end(), b.end());
        b = image_with_header(dict(descrs[next(6)], next(8) ? "False" : "True", shape), payload,
                              1 + static_cast<int>(next(3)));
        break;
      }
      case 7:  // version byte
        if (b.size() > 7) b[6 + next(2)] = static_cast<unsigned char>(next(5));
        break;
      default:  // trailing bytes
        for (std::uint64_t i = 0, n = 1 + next(16); i < n; ++i) b.push_back(static_cast<unsigned char>(next(256)));
        break;
    }
  }

  std::mt19937_64 engine_;
};

TEST(NpyFuzz, MutatedFilesParseConsistentlyOrFailCleanly) {
  std::vector<Bytes> seeds;
  for (const char* name : {"f4_2x3.npy", "f8_4.npy", "i4_2x2x2.npy", "f8_scalar.npy", "f4_empty_0x3.npy",
                           "f4_v2_4.npy", "i8_v3_2x2.npy", "bad_rank5.npy"})
    seeds.push_back(file_bytes(fixture(name)));
  seeds.push_back(data::serialize_npy(pattern_array(NpyType::Int64, {2, 1, 3, 1}), 2));
  seeds.push_back(data::serialize_npy(pattern_array(NpyType::Float32, {7}), 3));

  TempDir dir;
  const std::string path = (dir.path() / "fuzz.npy").string();
  Mutator mutator(20240607);
  int accepted = 0, rejected = 0, file_checks = 0;
  constexpr int kInputs = 40000;
  for (int round = 0; round < kInputs; ++round) {
    const Bytes input = mutator.mutate(seeds[round % seeds.size()]);
    std::string outcome;
    NpyArray parsed;
    try {
      parsed = data::parse_npy(input.data(), input.size(), path);
      ++accepted;
      // A parsed array is self-consistent and survives a write/parse round trip unchanged.
      ASSERT_LE(parsed.shape.size(), 4u);
      for (std::int64_t d : parsed.shape) ASSERT_GE(d, 0);
      ASSERT_EQ(parsed.bytes.size(), static_cast<std::size_t>(parsed.numel()) * data::npy_item_size(parsed.type));
      const Bytes again = data::serialize_npy(parsed);
      ASSERT_TRUE(same_array(parsed, data::parse_npy(again.data(), again.size(), "again")));
      ASSERT_TRUE(same_array(parsed, data::parse_npy(input.data(), input.size(), path)));
      // An empty array's other extents may be too large for a tensor: the one refusal allowed.
      try {
        ASSERT_EQ(data::npy_to_tensor(parsed).numel(), parsed.numel());
      } catch (const InvalidArgument& e) {
        ASSERT_EQ(parsed.numel(), 0);
        ASSERT_NE(std::string(e.what()).find("too large for a tensor"), std::string::npos) << e.what();
      }
    } catch (const InvalidArgument& e) {
      ++rejected;
      outcome = e.what();
      ASSERT_NE(outcome.find(path), std::string::npos) << outcome;
    } catch (const std::exception& e) {
      FAIL() << "input " << round << " threw a non-InvalidArgument exception: " << e.what();
    }
    // Every 100th input also goes through the file reader, which must agree (rewriting a file
    // costs milliseconds on some file systems, so not every one).
    if (round % 100 == 0) {
      ++file_checks;
      put_file(path, input);
      try {
        const NpyArray from_file = data::read_npy(path);
        ASSERT_TRUE(outcome.empty()) << "file reader accepted what the parser rejected: " << outcome;
        ASSERT_TRUE(same_array(parsed, from_file)) << "input " << round;
      } catch (const InvalidArgument& e) {
        ASSERT_EQ(outcome, e.what()) << "input " << round;
      }
    }
  }
  EXPECT_EQ(accepted + rejected, kInputs);
  // Both outcomes must be common, or the mutations are not exercising the parser.
  EXPECT_GT(accepted, kInputs / 100) << "accepted " << accepted;
  EXPECT_GT(rejected, kInputs / 2) << "rejected " << rejected;
  RecordProperty("accepted", accepted);
  RecordProperty("rejected", rejected);
  RecordProperty("file_checks", file_checks);
}

}  // namespace
}  // namespace latf
