// latf_bench: times every kernel family of the engine, and the headline coupling-layer stack,
// over a sweep of batch sizes on the CPU (one thread: the engine's CPU path is single-threaded)
// and on CUDA when a device is present. Writes one JSON document (schema in bench/README.md)
// that bench/merge_results.py sets side by side with the PyTorch twin's.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_support.hpp"
#include "bench/coupling_stack.hpp"
#include "bench/op_cases.hpp"
#include "bench/peaks.hpp"
#include "engine/error.hpp"

#ifndef LATF_BENCH_COSTS
#define LATF_BENCH_COSTS "bench/op_costs.txt"
#endif

namespace latf::bench {
namespace {

struct Options {
  std::string device = "auto";
  std::vector<std::int64_t> sizes = {512, 4096, 32768, 262144, 1048576};
  bool sizes_given = false;
  bool quick = false;
  std::vector<std::string> ops;  // empty: all
  std::string json_path;
  std::string commit;
  std::string costs = LATF_BENCH_COSTS;
  std::string dump_dir;
  std::int64_t dump_batch = 64;
  std::string command;
};

const char* kUsage =
    "usage: latf_bench [--device cpu|cuda|auto] [--sizes 512,4096,...] [--quick] [--ops a,b,...]\n"
    "                  [--json PATH] [--commit SHA] [--costs PATH]\n"
    "       latf_bench --dump-stack DIR [--dump-batch N]   (inputs/outputs for bench/peer/check_twin.py)\n"
    "  --device auto   every available device (the CPU, plus cuda:0 when present)\n"
    "  --quick         sizes 512,4096 (unless --sizes) and 0.05 s of timing per case instead of 0.2 s\n"
    "  --commit        recorded in the JSON; defaults to $LATF_COMMIT\n";

Options parse(int argc, char** argv) {
  Options o;
  if (const char* commit = std::getenv("LATF_COMMIT")) o.commit = commit;
  o.command = command_line(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      LATF_REQUIRE(i + 1 < argc, "option ", arg, ": expected a value");
      return argv[++i];
    };
    if (arg == "--device") {
      o.device = value();
    } else if (arg == "--sizes") {
      o.sizes.clear();
      for (const std::string& s : split_list(value())) o.sizes.push_back(std::stoll(s));
      LATF_REQUIRE(!o.sizes.empty(), "option --sizes: expected a comma list of batch sizes");
      for (std::int64_t s : o.sizes) LATF_REQUIRE(s > 0, "option --sizes: expected positive sizes, got ", s);
      o.sizes_given = true;
    } else if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--ops") {
      o.ops = split_list(value());
    } else if (arg == "--json") {
      o.json_path = value();
    } else if (arg == "--commit") {
      o.commit = value();
    } else if (arg == "--costs") {
      o.costs = value();
    } else if (arg == "--dump-stack") {
      o.dump_dir = value();
    } else if (arg == "--dump-batch") {
      o.dump_batch = std::stoll(value());
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      fail("unknown option ", arg, "\n", kUsage);
    }
  }
  if (o.quick && !o.sizes_given) o.sizes = {512, 4096};
  for (const std::string& name : o.ops) {
    bool known = false;
    for (const OpCase& c : op_cases()) known = known || name == c.name;
    if (!known) {
      std::string names;
      for (const OpCase& c : op_cases()) names += std::string(" ") + c.name;
      fail("option --ops: unknown op '", name, "'; known:", names);
    }
  }
  return o;
}

std::vector<Device> devices_of(const std::string& choice) {
  if (choice == "cpu") return {Device::cpu()};
  const bool have_cuda = cuda_device_count() > 0;
  if (choice == "cuda") {
    LATF_REQUIRE(have_cuda, "option --device cuda: no usable CUDA device (",
                 cuda_compiled() ? "none found" : "this build has no CUDA backend", ")");
    return {Device::cuda(0)};
  }
  LATF_REQUIRE(choice == "auto", "option --device: expected cpu, cuda or auto, got '", choice, "'");
  if (have_cuda) return {Device::cpu(), Device::cuda(0)};
  return {Device::cpu()};
}

std::string utc_timestamp() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

std::string number_or_null(std::optional<double> value) {
  if (!value) return "null";
  std::ostringstream out;
  out.precision(6);
  out << *value;
  return out.str();
}

std::string short_number(std::optional<double> value) {
  if (!value) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", *value);
  return text;
}

struct Result {
  std::string op, device, pass;
  std::int64_t batch = 0, calls = 0;
  double seconds = 0;
  std::optional<double> gflops, gbytes;
};

std::string result_json(const Result& r, const std::map<std::string, Peaks>& peaks) {
  const auto p = peaks.find(r.device);
  const auto fraction = [](const std::optional<double>& achieved, double peak) -> std::optional<double> {
    if (!achieved || peak <= 0) return std::nullopt;
    return *achieved / peak;
  };
  std::ostringstream out;
  out.precision(6);
  out << "{\"op\": " << json_string(r.op) << ", \"device\": " << json_string(r.device) << ", \"batch\": " << r.batch
      << ", \"pass\": " << json_string(r.pass) << ", \"seconds_per_call\": " << r.seconds
      << ", \"rows_per_second\": " << static_cast<double>(r.batch) / r.seconds
      << ", \"gflops\": " << number_or_null(r.gflops) << ", \"gbytes_per_second\": " << number_or_null(r.gbytes)
      << ", \"fraction_of_peak_flops\": " << number_or_null(fraction(r.gflops, p == peaks.end() ? 0 : p->second.gflops))
      << ", \"fraction_of_peak_bandwidth\": "
      << number_or_null(fraction(r.gbytes, p == peaks.end() ? 0 : p->second.gbytes_per_second))
      << ", \"calls\": " << r.calls << "}";
  return out.str();
}

// The device's short name as the twin spells it ("cpu" or "cuda").
std::string device_label(const Device& d) { return d.is_cpu() ? "cpu" : "cuda"; }

int run(const Options& o) {
  if (!o.dump_dir.empty()) {
    dump_coupling_stack(o.dump_dir, o.dump_batch);
    std::cout << "wrote coupling stack check data (batch " << o.dump_batch << ") to " << o.dump_dir << "\n";
    return 0;
  }
  CostTable costs;
  try {
    costs = load_cost_table(o.costs);
  } catch (const std::exception& e) {
    std::cerr << "warning: " << e.what() << "; GFLOP/s and GB/s will be null\n";
  }
  const double budget = o.quick ? 0.05 : 0.2;
  std::vector<Result> results;
  std::vector<std::string> skipped;
  const std::vector<Device> devices = devices_of(o.device);
  // Each device's measured peaks: every result also says what fraction of them it reaches.
  std::map<std::string, Peaks> peaks;
  for (const Device& device : devices) {
    const Peaks p = measure_peaks(device);
    peaks[device_label(device)] = p;
    std::printf("peaks %s: %.1f GFLOP/s FP32 FMA, %.1f GB/s copy\n", device_label(device).c_str(), p.gflops,
                p.gbytes_per_second);
  }
  std::printf("%-16s %-5s %8s %-16s %12s %12s %8s %8s\n", "op", "dev", "batch", "pass", "ms/call", "rows/s",
              "GFLOP/s", "GB/s");
  for (const Device& device : devices) {
    for (const OpCase& op : op_cases()) {
      if (!o.ops.empty() && std::find(o.ops.begin(), o.ops.end(), op.name) == o.ops.end()) continue;
      for (const std::int64_t batch : o.sizes) {
        try {
          const Runner runner = op.make(device, batch);
          const auto cost = costs.find(op.name);
          for (const bool backward : {false, true}) {
            const auto& call = backward ? runner.forward_backward : runner.forward;
            if (!call) continue;
            const Timing t = time_calls(call, device, budget);
            Result r{op.name, device_label(device), backward ? "forward_backward" : "forward", batch, t.calls,
                     t.seconds_per_call, {}, {}};
            if (cost != costs.end()) {
              const PassCost& pc = backward ? cost->second.forward_backward : cost->second.forward;
              const double rows_per_s = static_cast<double>(batch) / r.seconds;
              if (pc.flops) r.gflops = *pc.flops * rows_per_s * 1e-9;
              if (pc.bytes) r.gbytes = *pc.bytes * rows_per_s * 1e-9;
            }
            std::printf("%-16s %-5s %8lld %-16s %12.5f %12.4g %8s %8s\n", r.op.c_str(), r.device.c_str(),
                        static_cast<long long>(batch), r.pass.c_str(), r.seconds * 1e3,
                        static_cast<double>(batch) / r.seconds, short_number(r.gflops).c_str(),
                        short_number(r.gbytes).c_str());
            std::fflush(stdout);
            results.push_back(r);
          }
        } catch (const std::exception& e) {
          // An op that fails (e.g. unsupported on this device) is reported, not fatal: the rest
          // of the sweep is still worth having.
          skipped.push_back(concat(op.name, " ", device_label(device), " ", batch, ": ", e.what()));
          std::cerr << "skipped " << skipped.back() << "\n";
        }
      }
    }
  }
  if (!o.json_path.empty()) {
    std::ofstream out(o.json_path);
    out << "{\n  \"machine\": " << machine_json() << ",\n  \"command\": " << json_string(o.command)
        << ",\n  \"commit\": " << json_string(o.commit) << ",\n  \"timestamp\": " << json_string(utc_timestamp())
        << ",\n  \"implementation\": \"latf\",\n  \"peaks\": {";
    bool first = true;
    for (const auto& [label, p] : peaks) {
      out << (first ? "" : ", ") << json_string(label) << ": {\"gflops\": " << p.gflops
          << ", \"gbytes_per_second\": " << p.gbytes_per_second << "}";
      first = false;
    }
    out << "},\n  \"results\": [";
    for (std::size_t i = 0; i < results.size(); ++i) out << (i ? ",\n    " : "\n    ") << result_json(results[i], peaks);
    out << "\n  ],\n  \"skipped\": [";
    for (std::size_t i = 0; i < skipped.size(); ++i) out << (i ? ", " : "") << json_string(skipped[i]);
    out << "]\n}\n";
    LATF_REQUIRE(out.good(), "option --json: cannot write ", o.json_path);
    std::cout << "wrote " << o.json_path << "\n";
  }
  return skipped.empty() ? 0 : 2;
}

}  // namespace
}  // namespace latf::bench

int main(int argc, char** argv) {
  return latf::bench::guarded_main(
      "latf_bench", [](int c, char** v) { return latf::bench::run(latf::bench::parse(c, v)); }, argc, argv);
}
