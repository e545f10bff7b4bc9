#pragma once
// Plumbing shared by the benchmark executable: the timing loop, random inputs, the FLOP/byte
// cost table and a description of the machine. Kept apart from the op cases so that the
// measuring rules (which must match bench/peer/torch_twin.py exactly) are in one short file.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace latf::bench {

// Median seconds per call of `call` on `device`. Rules (identical in the PyTorch twin):
//  1. warm-up: at least 2 calls and at least 10% of `budget_seconds` (the first call pays for
//     pool allocations and cold caches; the later ones give a per-call estimate);
//  2. calls are timed in groups of k, k chosen so a group lasts ≥ 1 ms, with the device
//     synchronised before and after each group: the timer's resolution and one sync per group
//     cost nothing, and queued CUDA launches overlap as they do in training;
//  3. groups repeat until `budget_seconds` of timed work and at least 3 groups;
//  4. the result is the median over groups of (group time / k): robust to a noisy neighbour.
// main() of a benchmark executable: `run(argc, argv)`, with any exception printed as
// "<program>: <message>" and exit code 1.
int guarded_main(const char* program, int (*run)(int, char**), int argc, char** argv);

struct Timing {
  double seconds_per_call = 0;
  std::int64_t calls = 0;
};
Timing time_calls(const std::function<void()>& call, const Device& device, double budget_seconds);

// A [shape] float32 tensor of N(mean, stddev²) values on `device`; `stream` picks independent
// values for each operand (filled on the CPU, then copied, so every device sees the same data).
Tensor random_normal(const Shape& shape, const Device& device, std::uint64_t stream, double mean = 0.0,
                     double stddev = 1.0);
Tensor random_uniform(const Shape& shape, const Device& device, std::uint64_t stream, double low, double high);

// Work per row of one call, read from bench/op_costs.txt (shared with the PyTorch twin, so the
// two report GFLOP/s and GB/s from the same model). An absent value means "not meaningful".
struct PassCost {
  std::optional<double> flops, bytes;
};
struct OpCost {
  PassCost forward, forward_backward;
};
using CostTable = std::map<std::string, OpCost>;
// Throws InvalidArgument naming the file and line if the table is malformed.
CostTable load_cost_table(const std::string& path);

// {"cpu": ..., "cores": ..., "gpu": ...} as a JSON object (gpu is null without a usable device).
std::string machine_json();

// Writes a benchmark's JSON document to `path`; throws InvalidArgument naming the path if it fails.
void write_json_file(const std::string& path, const std::string& text);

// A JSON string literal (quotes, backslashes and control characters escaped).
std::string json_string(const std::string& text);

// "a,b,c" → {"a", "b", "c"} (empty parts dropped), for list-valued options.
std::vector<std::string> split_list(const std::string& text);
// argv joined by spaces, recorded in the JSON as the command that produced it.
std::string command_line(int argc, char** argv);

}  // namespace latf::bench
