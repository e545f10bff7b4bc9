#include "apps/cli/inputs.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "apps/cli/common.hpp"
#include "data/npy.hpp"
#include "engine/error.hpp"

namespace latf::cli {

namespace fs = std::filesystem;

namespace {

bool is_manifest(const std::string& path) { return fs::path(path).extension() == ".json"; }

void require_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw UsageError(what + " " + path + ": no such file");
}

struct Entry {
  std::string frames, labels, weights;
  double temperature = 0;
  std::string name;
};

std::vector<Entry> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("manifest " + path + ": cannot open");
  nlohmann::json root;
  try {
    root = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error("manifest " + path + ": not valid JSON: " + e.what());
  }
  if (!root.is_array() || root.empty())
    throw std::runtime_error("manifest " + path + ": expected a non-empty JSON array of {\"file\", \"temperature\"}");
  const fs::path base = fs::path(path).parent_path();
  const auto resolve = [&](const std::string& file) { return (fs::path(file).is_absolute() ? fs::path(file) : base / file).string(); };
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < root.size(); ++i) {
    const nlohmann::json& item = root[i];
    const std::string where = "manifest " + path + " entry " + std::to_string(i);
    if (!item.is_object()) throw std::runtime_error(where + ": expected a JSON object");
    for (const auto& [key, value] : item.items())
      if (key != "file" && key != "temperature" && key != "labels" && key != "weights" && key != "replica" &&
          key != "order_parameters")  // replica, order_parameters: informative only
        throw std::runtime_error(where + ": unknown key \"" + key + "\" (expected file, temperature, labels, weights)");
    if (!item.contains("file") || !item["file"].is_string())
      throw std::runtime_error(where + ": \"file\" must be a string");
    if (!item.contains("temperature") || !item["temperature"].is_number())
      throw std::runtime_error(where + ": \"temperature\" must be a number");
    Entry e;
    e.frames = resolve(item["file"].get<std::string>());
    e.temperature = item["temperature"].get<double>();
    if (!(e.temperature > 0) || !std::isfinite(e.temperature))
      throw std::runtime_error(where + ": temperature must be > 0, got " + item["temperature"].dump());
    for (const char* key : {"labels", "weights"}) {
      if (!item.contains(key)) continue;
      if (!item[key].is_string()) throw std::runtime_error(where + ": \"" + key + "\" must be a file name");
      (std::string(key) == "labels" ? e.labels : e.weights) = resolve(item[key].get<std::string>());
    }
    for (const std::string* file : {&e.frames, &e.labels, &e.weights})
      if (!file->empty() && !fs::is_regular_file(*file)) throw std::runtime_error(where + ": " + *file + ": no such file");
    e.name = e.frames;
    entries.push_back(std::move(e));
  }
  return entries;
}

std::int64_t first_dim(const data::NpyArray& a) { return a.shape.empty() ? 1 : a.shape[0]; }

}  // namespace

Tensor read_frames(const std::string& path) {
  const data::NpyArray array = data::read_npy(path);
  if (array.shape.size() != 1 && array.shape.size() != 2)
    throw std::runtime_error(path + ": expected frames of shape [N, D] (or [N]), got rank " + std::to_string(array.shape.size()));
  Tensor frames = data::npy_to_tensor(array);
  if (array.shape.size() == 1) frames = frames.reshape({array.shape[0], 1});
  for (float v : frames.to_vector())
    if (!std::isfinite(v)) throw std::runtime_error(path + ": frames contain NaN or Inf");
  return frames;
}

std::vector<models::Trajectory> load_trajectories(const std::vector<std::string>& data,
                                                  const std::vector<double>& temperatures) {
  std::vector<Entry> entries;
  std::size_t plain = 0;
  for (const std::string& path : data) {
    require_file(path, "--data");
    if (!is_manifest(path)) ++plain;
  }
  if (plain > 0 && temperatures.empty())
    throw UsageError("--temperatures is required for .npy files given directly (one for all, or one per file)");
  if (plain > 0 && temperatures.size() != 1 && temperatures.size() != plain)
    throw UsageError("--temperatures: " + std::to_string(plain) + " .npy file(s) given directly need one temperature or " +
                     std::to_string(plain) + ", got " + std::to_string(temperatures.size()));
  std::size_t next_plain = 0;
  for (const std::string& path : data) {
    if (is_manifest(path)) {
      for (Entry& e : read_manifest(path)) entries.push_back(std::move(e));
    } else {
      Entry e;
      e.frames = e.name = path;
      e.temperature = temperatures.size() == 1 ? temperatures[0] : temperatures[next_plain];
      ++next_plain;
      entries.push_back(std::move(e));
    }
  }
  std::vector<models::Trajectory> trajectories;
  for (const Entry& e : entries) {
    models::Trajectory t;
    t.frames = read_frames(e.frames);
    t.temperature = e.temperature;
    t.name = e.name;
    const std::int64_t n = t.frames.dim(0);
    if (!e.labels.empty()) {
      const data::NpyArray labels = data::read_npy(e.labels);
      if (labels.shape.size() != 1 || first_dim(labels) != n)
        throw std::runtime_error(e.labels + ": expected labels of shape [" + std::to_string(n) + "] (one per frame of " +
                                 e.frames + ")");
      t.labels = data::npy_to_integers(labels, e.labels);
    }
    if (!e.weights.empty()) {
      const data::NpyArray weights = data::read_npy(e.weights);
      if (weights.shape.size() != 1 || first_dim(weights) != n)
        throw std::runtime_error(e.weights + ": expected weights of shape [" + std::to_string(n) + "] (one per frame of " +
                                 e.frames + ")");
      t.weights = data::npy_to_tensor(weights).to_vector();
    }
    trajectories.push_back(std::move(t));
  }
  return trajectories;
}

}  // namespace latf::cli
