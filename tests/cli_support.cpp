#include "tests/cli_support.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#ifndef LATF_CLI_BINARY
#define LATF_CLI_BINARY ""  // latf not built here (no CLI11): the tests that run it skip
#endif

namespace latf::testing {

namespace fs = std::filesystem;

namespace {

// Single-quoted for the shell, embedded quotes included.
std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

bool latf_built() { return !std::string(LATF_CLI_BINARY).empty(); }

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CliResult run_latf(const std::vector<std::string>& args, const fs::path& scratch, const std::string& env) {
  std::string command = env + (env.empty() ? "" : " ") + quoted(LATF_CLI_BINARY);
  for (const auto& a : args) command += " " + quoted(a);
  const fs::path out = scratch / ".stdout", err = scratch / ".stderr";
  command += " > " + quoted(out.string()) + " 2> " + quoted(err.string());
  const int status = std::system(command.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(out);
  r.err = slurp(err);
  fs::remove(out);
  fs::remove(err);
  return r;
}

std::vector<std::string> in_test_dir(std::vector<std::string> args, const fs::path& dir) {
  for (std::string& a : args)
    if (const auto at = a.find('@'); at != std::string::npos) a.replace(at, 1, dir.string());
  return args;
}

void expect_one_line_error(const CliResult& r, int code, const std::string& named) {
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_NE(r.err.find(named), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected a one-line error, got: " << r.err;
}

void expect_no_output(const fs::path& dir, const std::string& prefix) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    EXPECT_NE(file.rfind(prefix, 0), 0u) << "left behind: " << file;
  }
}

}  // namespace latf::testing
