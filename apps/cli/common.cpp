#include "apps/cli/common.hpp"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <system_error>

#include "data/atomic_file.hpp"
#include "engine/error.hpp"

namespace latf::cli {

namespace fs = std::filesystem;

namespace {
bool exists_or_link(const fs::path& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}
}  // namespace

StagedDirectory::StagedDirectory(const std::string& final_path, bool overwrite) : overwrite_(overwrite) {
  if (final_path.empty()) throw UsageError("--out: expected a directory name, got an empty one");
  final_ = fs::path(final_path).lexically_normal();
  if (final_.filename().empty()) final_ = final_.parent_path();  // "dir/" → "dir"
  if (exists_or_link(final_) && !overwrite_)
    throw UsageError("--out " + final_.string() + ": already exists (pass --overwrite to replace it)");
  staging_ = final_;
  staging_ += ".tmp-" + std::to_string(::getpid());
  std::error_code ec;
  fs::remove_all(staging_, ec);  // a leftover of an earlier process with our pid
  if (!fs::create_directories(staging_, ec) && ec)
    throw std::runtime_error("--out " + final_.string() + ": cannot create " + staging_.string() + ": " + ec.message());
}

StagedDirectory::~StagedDirectory() {
  if (done_) return;
  std::error_code ec;
  fs::remove_all(staging_, ec);
}

void StagedDirectory::commit() { commit_as(final_); }

void StagedDirectory::commit_as(const fs::path& destination) {
  std::error_code ec;
  // Set the old content aside first, so that a failed rename can put it back.
  fs::path old;
  if (exists_or_link(destination)) {
    if (destination == final_ && !overwrite_)
      throw std::runtime_error(final_.string() + ": appeared while this command ran; result left in " + staging_.string());
    old = destination;
    old += ".old-" + std::to_string(::getpid());
    fs::remove_all(old, ec);
    fs::rename(destination, old, ec);
    if (ec) throw std::runtime_error("cannot move " + destination.string() + " aside: " + ec.message());
  }
  fs::rename(staging_, destination, ec);
  if (ec) {
    std::error_code ignored;
    if (!old.empty()) fs::rename(old, destination, ignored);
    throw std::runtime_error("cannot rename " + staging_.string() + " to " + destination.string() + ": " + ec.message());
  }
  done_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

std::vector<double> parse_temperatures(const std::string& text, const std::string& what) {
  std::vector<double> values;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    char* end = nullptr;
    errno = 0;
    const double value = item.empty() ? NAN : std::strtod(item.c_str(), &end);
    if (item.empty() || errno != 0 || *end != '\0' || !std::isfinite(value))
      throw UsageError(what + " '" + text + "': '" + item + "' is not a number (expected e.g. 0.7,1.5)");
    if (value <= 0) throw UsageError(what + " '" + text + "': temperature " + item + " must be > 0");
    values.push_back(value);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return values;
}

Device device_option(const std::string& text, const std::string& what) {
  try {
    return parse_device(text);
  } catch (const InvalidArgument& e) {
    throw UsageError(what + ": " + e.what());
  }
}

void write_json(const std::string& path, const nlohmann::ordered_json& value) {
  const std::string text = value.dump(2) + "\n";
  data::write_file_atomically(path, text.data(), text.size());
}

}  // namespace latf::cli
