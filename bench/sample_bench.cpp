// latf_sample_bench: throughput of count_generated_states (prior draws → G → decoder → device
// state counts) for a fresh model of the default shape. Writes JSON like the other benches.
//   latf_sample_bench --json PATH [--device cpu|cuda] [--samples N] [--chunk C] [--repeat R]
// Defaults: 10⁷ samples on the CPU, 10⁸ on CUDA; chunk 2²⁰; 3 timed runs after one warm-up.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

#include "bench/bench_support.hpp"
#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/random_fill.hpp"
#include "models/inference.hpp"

namespace latf::bench {
namespace {

struct Options {
  Device device = Device::cpu();
  std::int64_t samples = 0, chunk = std::int64_t{1} << 20;
  int repeat = 3;
  std::string json_path, command;
};

Options parse(int argc, char** argv) {
  Options o;
  o.command = command_line(argc, argv);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    LATF_REQUIRE(i + 1 < argc, arg, ": expected a value");
    const std::string value = argv[++i];
    if (arg == "--device") o.device = parse_device(value);
    else if (arg == "--samples") o.samples = std::stoll(value);
    else if (arg == "--chunk") o.chunk = std::stoll(value);
    else if (arg == "--repeat") o.repeat = std::stoi(value);
    else if (arg == "--json") o.json_path = value;
    else throw InvalidArgument(concat("unknown option ", arg));
  }
  LATF_REQUIRE(!o.json_path.empty(), "--json is required");
  LATF_REQUIRE(o.repeat >= 1, "--repeat: expected >= 1, got ", o.repeat);
  if (o.samples == 0) o.samples = o.device.is_cuda() ? 100000000 : 10000000;
  return o;
}

int run(int argc, char** argv) {
  const Options o = parse(argc, argv);
  require_usable(o.device);
  models::LatfConfig config;  // default shape: d = 2, 10 coupling layers of width 16
  const int states = 4;
  models::LatfModel model =
      models::LatfModel::create(config, 3, states, models::Normalization{{0, 0, 0}, {1, 1, 1}}, 1.0, o.device);
  Tensor flow = model.flow->parameters().flat_values();
  fill_uniform(flow, 1, 0, -0.2, 0.2);  // away from the identity a fresh flow starts as
  models::count_generated_states(model, 1.5, std::min<std::int64_t>(o.samples, o.chunk), 0, o.chunk);  // warm-up
  std::vector<double> seconds;
  models::StateCounts last;
  for (int r = 0; r < o.repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    last = models::count_generated_states(model, 1.5, o.samples, 1 + r, o.chunk);  // ends with a device read
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::vector<double> sorted = seconds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  std::ostringstream out;
  out << "{\n  \"implementation\": \"latf-engine\",\n  \"benchmark\": \"count_generated_states\",\n  \"device\": \""
      << o.device.str() << "\",\n  \"machine\": " << machine_json() << ",\n  \"command\": " << json_string(o.command)
      << ",\n  \"config\": {\"latent_dim\": " << config.spib.latent_dim << ", \"layers\": " << config.flow.layers
      << ", \"hidden\": " << config.flow.hidden << ", \"states\": " << states << ", \"samples\": " << o.samples
      << ", \"chunk\": " << o.chunk << "},\n  \"seconds\": [";
  for (std::size_t i = 0; i < seconds.size(); ++i) out << (i ? ", " : "") << seconds[i];
  out << "],\n  \"median_seconds\": " << median << ",\n  \"samples_per_second\": " << o.samples / median
      << ",\n  \"last_counts\": [";
  for (std::size_t j = 0; j < last.counts.size(); ++j) out << (j ? ", " : "") << last.counts[j];
  out << "]\n}\n";
  write_json_file(o.json_path, out.str());
  std::cout << out.str();
  return 0;
}

}  // namespace
}  // namespace latf::bench

int main(int argc, char** argv) { return latf::bench::guarded_main("latf_sample_bench", latf::bench::run, argc, argv); }
