#include "data/npy_header.hpp"

#include <cctype>
#include <cstring>
#include <limits>

#include "engine/error.hpp"
#include "engine/tensor.hpp"

namespace latf::data {

namespace {

constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// Arbitrary bytes made printable for a message, cut at `limit` characters.
std::string printable(const char* text, std::size_t length, std::size_t limit = 24) {
  std::string out;
  for (std::size_t i = 0; i < length && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static const char* const digits = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  if (length > limit) out += "...";
  return out;
}

bool is_python_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A recursive-descent reader for the one dict shape NumPy writes:
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// Keys may come in any order, either quote style, with any whitespace and an optional trailing
// comma, as Python's literal syntax allows. Nothing nests, so arbitrary input cannot recurse.
class HeaderReader {
 public:
  HeaderReader(const char* text, std::size_t length, const std::string& name)
      : begin_(text), at_(text), end_(text + length), name_(name) {}

  NpyHeader read() {
    skip_space();
    if (at_end() || *at_ != '{') error("header is not a dict: expected '{', found '", rest(), "'");
    ++at_;
    bool have_descr = false, have_order = false, have_shape = false;
    NpyHeader header;
    for (;;) {
      skip_space();
      if (at_end()) error("header is not a dict: it ends before the closing '}'");
      if (*at_ == '}') break;
      const std::string key = read_string("a quoted key");
      skip_space();
      expect(':', "after key '" + printable(key.data(), key.size()) + "'");
      skip_space();
      if (key == "descr") {
        if (have_descr) error("header repeats the key 'descr'");
        header.type = read_descr();
        have_descr = true;
      } else if (key == "fortran_order") {
        if (have_order) error("header repeats the key 'fortran_order'");
        if (read_bool("fortran_order"))
          error("fortran_order is True: only C-order arrays are supported (save with np.ascontiguousarray)");
        have_order = true;
      } else if (key == "shape") {
        if (have_shape) error("header repeats the key 'shape'");
        header.shape = read_shape();
        have_shape = true;
      } else {
        error("header has the unexpected key '", printable(key.data(), key.size()),
              "' (expected 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (!at_end() && *at_ == ',') {
        ++at_;
        continue;
      }
      if (at_end() || *at_ != '}') error("header is not a dict: expected ',' or '}', found '", rest(), "'");
    }
    ++at_;
    skip_space();
    if (!at_end()) error("header has unexpected text after the dict: '", rest(), "'");
    if (!have_descr) error("header has no 'descr' key");
    if (!have_order) error("header has no 'fortran_order' key");
    if (!have_shape) error("header has no 'shape' key");
    header.data_bytes = npy_byte_count(header.shape, header.type, name_);
    return header;
  }

 private:
  template <class... Parts>
  [[noreturn]] void error(const Parts&... parts) const {
    fail(name_, ": ", parts..., " (header byte ", at_ - begin_, ")");
  }

  bool at_end() const { return at_ >= end_; }
  std::string rest() const { return at_end() ? "<end>" : printable(at_, static_cast<std::size_t>(end_ - at_)); }

  void skip_space() {
    while (!at_end() && is_python_space(*at_)) ++at_;
  }

  void expect(char c, const std::string& where) {
    if (at_end() || *at_ != c) error("header is not a dict: expected '", c, "' ", where, ", found '", rest(), "'");
    ++at_;
  }

  // A quoted Python string; escapes keep the next character (enough for the keys and dtype strings
  // this reader accepts: anything unusual fails the key or descr check with a clear message).
  std::string read_string(const char* what) {
    if (at_end() || (*at_ != '\'' && *at_ != '"')) error("header is not a dict: expected ", what, ", found '", rest(), "'");
    const char quote = *at_++;
    std::string value;
    while (!at_end() && *at_ != quote) {
      if (*at_ == '\\' && at_ + 1 < end_) ++at_;
      if (*at_ == '\n') error("header is not a dict: a string runs past the end of its line");
      value += *at_++;
    }
    if (at_end()) error("header is not a dict: unterminated string");
    ++at_;
    return value;
  }

  NpyType read_descr() {
    if (at_end() || (*at_ != '\'' && *at_ != '"'))
      error("unsupported descr '", rest(), "': only simple dtypes '<f4', '<f8', '<i4', '<i8' are supported "
            "(no structured dtypes)");
    const std::string descr = read_string("the descr string");
    if (descr == "<f4") return NpyType::Float32;
    if (descr == "<f8") return NpyType::Float64;
    if (descr == "<i4") return NpyType::Int32;
    if (descr == "<i8") return NpyType::Int64;
    error("unsupported descr '", printable(descr.data(), descr.size()),
          "': supported are '<f4', '<f8', '<i4', '<i8' (little-endian float32/float64/int32/int64)");
  }

  bool read_bool(const char* key) {
    auto word = [&](const char* w) {
      const std::size_t n = std::strlen(w);
      if (static_cast<std::size_t>(end_ - at_) < n || std::memcmp(at_, w, n) != 0) return false;
      // A longer identifier (e.g. "Falsehood") is not the literal.
      if (at_ + n < end_ && (std::isalnum(static_cast<unsigned char>(at_[n])) || at_[n] == '_')) return false;
      at_ += n;
      return true;
    };
    if (word("True")) return true;
    if (word("False")) return false;
    error("'", key, "' must be True or False, found '", rest(), "'");
  }

  // A Python tuple of non-negative integers: (), (3,), (2, 3) or (2, 3,).
  std::vector<std::int64_t> read_shape() {
    if (at_end() || *at_ != '(') error("'shape' must be a tuple of integers, found '", rest(), "'");
    ++at_;
    std::vector<std::int64_t> shape;
    bool trailing_comma = false;
    for (;;) {
      skip_space();
      if (!at_end() && *at_ == ')') break;
      shape.push_back(read_dimension());
      // Stop before reading a tuple longer than any supported rank (bounds the work on junk).
      if (shape.size() > static_cast<std::size_t>(Shape::kMaxRank))
        error("'shape' has more than ", Shape::kMaxRank, " entries: at most rank ", Shape::kMaxRank, " is supported");
      skip_space();
      trailing_comma = !at_end() && *at_ == ',';
      if (trailing_comma) {
        ++at_;
        continue;
      }
      if (at_end() || *at_ != ')') error("'shape' tuple: expected ',' or ')', found '", rest(), "'");
    }
    ++at_;
    // In Python "(3)" is the integer 3, not a tuple.
    if (shape.size() == 1 && !trailing_comma) error("'shape' must be a tuple: '(n)' is an integer, write '(n,)'");
    return shape;
  }

  std::int64_t read_dimension() {
    const char* start = at_;
    if (!at_end() && (*at_ == '-' || *at_ == '+')) ++at_;
    skip_space();  // Python allows "- 3"
    if (at_end() || !is_digit(*at_)) error("'shape' entry is not an integer: '", printable(start, static_cast<std::size_t>(end_ - start)), "'");
    const bool negative = *start == '-';
    std::int64_t value = 0;
    bool too_large = false;
    while (!at_end() && (is_digit(*at_) || *at_ == '_')) {
      if (*at_ != '_') {
        const int digit = *at_ - '0';
        if (value > (kInt64Max - digit) / 10) too_large = true;
        if (!too_large) value = value * 10 + digit;
      }
      ++at_;
    }
    if (!at_end() && *at_ == 'L') ++at_;  // Python 2 long literals, in old format 1.0 files
    const std::string text = printable(start, static_cast<std::size_t>(at_ - start));
    if (!at_end() && (std::isalnum(static_cast<unsigned char>(*at_)) || *at_ == '.'))
      error("'shape' entry is not an integer: '", printable(start, static_cast<std::size_t>(end_ - start)), "'");
    if (negative && (value != 0 || too_large)) error("negative 'shape' entry ", text);
    if (too_large) error("'shape' entry ", text, " is too large");
    return value;
  }

  const char* begin_;
  const char* at_;
  const char* end_;
  const std::string& name_;
};

}  // namespace

NpyPrelude parse_npy_prelude(const unsigned char* data, std::size_t available, std::size_t file_size,
                             const std::string& name) {
  LATF_REQUIRE(file_size > 0, name, ": empty file");
  const std::size_t magic_bytes = std::min(available, sizeof(kMagic));
  LATF_REQUIRE(std::memcmp(data, kMagic, magic_bytes) == 0, name, ": bad magic '",
               printable(reinterpret_cast<const char*>(data), magic_bytes, 6),
               "': not a .npy file (expected it to start with \\x93NUMPY)");
  LATF_REQUIRE(available >= 8, name, ": header truncated: the file has ", file_size,
               " bytes, fewer than the fixed 10-byte prelude");
  NpyPrelude prelude;
  prelude.major_version = data[6];
  LATF_REQUIRE(data[6] >= 1 && data[6] <= 3 && data[7] == 0, name, ": unsupported format version ",
               int(data[6]), ".", int(data[7]), " (1.0, 2.0 and 3.0 are supported)");
  const std::size_t length_bytes = prelude.major_version == 1 ? 2 : 4;
  prelude.header_start = 8 + length_bytes;
  LATF_REQUIRE(available >= prelude.header_start, name, ": header truncated: the file has ", file_size,
               " bytes, fewer than the fixed ", prelude.header_start, "-byte prelude of format ",
               prelude.major_version, ".0");
  for (std::size_t i = 0; i < length_bytes; ++i) prelude.header_length |= std::size_t{data[8 + i]} << (8 * i);
  const std::size_t after_prelude = file_size - prelude.header_start;
  LATF_REQUIRE(prelude.header_length <= after_prelude, name, ": header truncated: it declares ",
               prelude.header_length, " header bytes but only ", after_prelude, " follow the prelude");
  return prelude;
}

NpyHeader parse_npy_header(const char* text, std::size_t length, const std::string& name) {
  return HeaderReader(text, length, name).read();
}

void require_data_size(const NpyHeader& header, std::size_t available, const std::string& name) {
  const auto needed = static_cast<std::uint64_t>(header.data_bytes);
  LATF_REQUIRE(available >= needed, name, ": data truncated: shape ", shape_text(header.shape), " of ",
               npy_descr(header.type), " needs ", needed, " bytes, the file has ", available);
  LATF_REQUIRE(available == needed, name, ": ", available - needed, " unexpected bytes after the data (shape ",
               shape_text(header.shape), " of ", npy_descr(header.type), " needs ", needed, " bytes, the file has ",
               available, ")");
}

std::int64_t npy_byte_count(const std::vector<std::int64_t>& shape, NpyType type, const std::string& name) {
  std::int64_t count = static_cast<std::int64_t>(npy_item_size(type));
  bool overflow = false;
  for (std::int64_t d : shape) {
    LATF_REQUIRE(d >= 0, name, ": negative shape entry ", d);
    if (d == 0) return 0;  // an empty array is empty whatever its other extents
    if (count > kInt64Max / d) overflow = true;
    if (!overflow) count *= d;
  }
  LATF_REQUIRE(!overflow, name, ": shape ", shape_text(shape), " of ", npy_descr(type),
               " is too large: its byte count overflows a 64-bit integer");
  return count;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) out += ",";
  return out + ")";
}

std::vector<unsigned char> npy_header_bytes(NpyType type, const std::vector<std::int64_t>& shape, int major_version) {
  std::string dict = concat("{'descr': '", npy_descr(type), "', 'fortran_order': False, 'shape': ", shape_text(shape),
                            ", }");
  const std::size_t prelude = major_version == 1 ? 10 : 12;
  // NumPy pads with spaces and ends with '\n' so that the data starts 64-byte aligned.
  const std::size_t unpadded = prelude + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  const std::size_t length = dict.size();
  LATF_REQUIRE(major_version != 1 || length <= 0xffff, "npy header of ", length, " bytes does not fit format 1.0");
  std::vector<unsigned char> bytes(kMagic, kMagic + sizeof(kMagic));
  bytes.push_back(static_cast<unsigned char>(major_version));
  bytes.push_back(0);
  for (std::size_t i = 0; i < prelude - 8; ++i) bytes.push_back(static_cast<unsigned char>(length >> (8 * i)));
  bytes.insert(bytes.end(), dict.begin(), dict.end());
  return bytes;
}

}  // namespace latf::data
