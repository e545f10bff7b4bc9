#include "bench/bench_support.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/error.hpp"
#include "engine/random_fill.hpp"

#if LATF_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace latf::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr std::uint64_t kSeed = 20250701;  // fixed: every run times the same data
constexpr double kMinGroupSeconds = 1e-3;
constexpr int kMinWarmupCalls = 2;
constexpr int kMinGroups = 3;

}  // namespace

Timing time_calls(const std::function<void()>& call, const Device& device, double budget_seconds) {
  synchronize(device);
  const auto warm_start = Clock::now();
  int warm_calls = 0;
  double last_call = 0;
  while (warm_calls < kMinWarmupCalls || seconds_since(warm_start) < 0.1 * budget_seconds) {
    const auto start = Clock::now();
    call();
    synchronize(device);
    last_call = seconds_since(start);
    ++warm_calls;
  }
  const std::int64_t per_group =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(kMinGroupSeconds / std::max(last_call, 1e-9))));

  std::vector<double> per_call;
  double timed = 0;
  while (per_call.size() < kMinGroups || timed < budget_seconds) {
    const auto start = Clock::now();
    for (std::int64_t i = 0; i < per_group; ++i) call();
    synchronize(device);
    const double elapsed = seconds_since(start);
    timed += elapsed;
    per_call.push_back(elapsed / static_cast<double>(per_group));
  }
  std::sort(per_call.begin(), per_call.end());
  const std::size_t mid = per_call.size() / 2;
  const double median = per_call.size() % 2 ? per_call[mid] : 0.5 * (per_call[mid - 1] + per_call[mid]);
  return Timing{median, static_cast<std::int64_t>(per_call.size()) * per_group};
}

Tensor random_normal(const Shape& shape, const Device& device, std::uint64_t stream, double mean, double stddev) {
  Tensor host = Tensor::empty(shape);
  fill_normal(host, kSeed, stream, mean, stddev);
  return host.to(device);
}

Tensor random_uniform(const Shape& shape, const Device& device, std::uint64_t stream, double low, double high) {
  Tensor host = Tensor::empty(shape);
  fill_uniform(host, kSeed, stream, low, high);
  return host.to(device);
}

namespace {

std::optional<double> parse_cost(const std::string& field, const std::string& where) {
  if (field == "-") return std::nullopt;
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(field, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  LATF_REQUIRE(used == field.size() && value >= 0, where, ": expected a non-negative number or '-', got '", field,
               "'");
  return value;
}

}  // namespace

CostTable load_cost_table(const std::string& path) {
  std::ifstream in(path);
  LATF_REQUIRE(in, "cost table ", path, ": cannot be opened");
  CostTable table;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    line = line.substr(0, line.find('#'));
    std::istringstream fields(line);
    std::vector<std::string> parts;
    for (std::string part; fields >> part;) parts.push_back(part);
    if (parts.empty()) continue;
    const std::string where = concat("cost table ", path, " line ", number);
    LATF_REQUIRE(parts.size() == 5, where, ": expected 5 fields (op, forward flops, forward bytes, ",
                 "forward_backward flops, forward_backward bytes), got ", parts.size());
    table[parts[0]] = OpCost{{parse_cost(parts[1], where), parse_cost(parts[2], where)},
                             {parse_cost(parts[3], where), parse_cost(parts[4], where)}};
  }
  return table;
}

namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    const auto start = line.find_first_not_of(' ', colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  }
  return "unknown";
}

std::string gpu_json() {
#if LATF_WITH_CUDA
  if (cuda_device_count() > 0) {
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, 0) == cudaSuccess) return json_string(properties.name);
  }
#endif
  return "null";
}

}  // namespace

std::string machine_json() {
  return concat("{\"cpu\": ", json_string(cpu_model()), ", \"cores\": ", std::thread::hardware_concurrency(),
                ", \"gpu\": ", gpu_json(), "}");
}

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::string command_line(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  return command;
}

int guarded_main(const char* program, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << "\n";
    return 1;
  }
}

void write_json_file(const std::string& path, const std::string& text) {
  std::ofstream file(path);
  file << text;
  LATF_REQUIRE(file.good(), "cannot write ", path);
}

}  // namespace latf::bench
