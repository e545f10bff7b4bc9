#pragma once
// Helpers shared by the subcommands of `latf`: the error kinds that decide the exit code, output
// directories that appear complete or not at all, and small parsers.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/device.hpp"

namespace latf::cli {

// Bad command-line input (exit code 2); every other failure exits with 1.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Output directory built under `<final>.tmp-<pid>` and renamed to `<final>` by commit(), so that
// a directory under the final name is always complete. Without commit() the staging directory
// is removed. An existing `<final>` is an error unless `overwrite`, in which case it is replaced
// only at commit.
class StagedDirectory {
 public:
  StagedDirectory(const std::string& final_path, bool overwrite);
  ~StagedDirectory();
  StagedDirectory(const StagedDirectory&) = delete;
  StagedDirectory& operator=(const StagedDirectory&) = delete;

  std::string file(const std::string& name) const { return (staging_ / name).string(); }
  const std::filesystem::path& final_path() const { return final_; }
  void commit();
  // Moves what was written so far to `destination` (replacing it) instead of the final name.
  void commit_as(const std::filesystem::path& destination);

 private:
  std::filesystem::path final_, staging_;
  bool overwrite_ = false, done_ = false;
};

// "0.7,1.5" → {0.7, 1.5}; every entry must be a finite number > 0. `what` names the option.
std::vector<double> parse_temperatures(const std::string& text, const std::string& what);

// parse_device, its errors reported as bad usage naming `what` (the option).
Device device_option(const std::string& text, const std::string& what = "--device");

void write_json(const std::string& path, const nlohmann::ordered_json& value);

}  // namespace latf::cli
