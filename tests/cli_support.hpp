#pragma once
// Running the built `latf` executable from a test: its exit code and captured output, plus the
// file checks the CLI tests share.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace latf::testing {

struct CliResult {
  int code = -1;  // exit status; -1 when the process did not exit normally
  std::string out, err;
};

// False where the tests were built without the `latf` executable (no CLI11).
bool latf_built();

// The whole file as bytes ("" when it cannot be read).
std::string slurp(const std::filesystem::path& path);

// Runs `latf args...` through the shell. stdout and stderr go through `scratch`/.stdout and
// .stderr, removed afterwards so that they never show up among a test's outputs. `env` is put in
// front of the command line (e.g. "LATF_PYTHON=/nonexistent").
CliResult run_latf(const std::vector<std::string>& args, const std::filesystem::path& scratch,
                   const std::string& env = "");

// `args` with an "@" in each replaced by `dir`: bad-input cases are written before their test
// directory exists.
std::vector<std::string> in_test_dir(std::vector<std::string> args, const std::filesystem::path& dir);

// A rejected input: exit status `code` and a one-line message on stderr that contains `named`.
void expect_one_line_error(const CliResult& r, int code, const std::string& named);

// Nothing in `dir` whose name starts with `prefix` (an output or its staging directory).
void expect_no_output(const std::filesystem::path& dir, const std::string& prefix);

}  // namespace latf::testing

// First line of every test that runs the executable.
#define LATF_SKIP_WITHOUT_CLI() \
  if (!::latf::testing::latf_built()) GTEST_SKIP() << "the latf executable is not built (CLI11 missing)"
