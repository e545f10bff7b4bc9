#include "models/checkpoint.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "data/atomic_file.hpp"
#include "engine/error.hpp"

#ifndef LATF_ENGINE_VERSION
#define LATF_ENGINE_VERSION "unknown"
#endif

namespace latf::models {

namespace {

using json = nlohmann::ordered_json;  // keeps the documented key order in written headers

// Blobs are memcpy'd float32 and the preamble integers are written as they lie in memory.
static_assert(std::endian::native == std::endian::little, "checkpoints are little-endian: add byte swapping");

constexpr char kMagic[8] = {'L', 'A', 'T', 'F', 'C', 'K', 'P', 'T'};
constexpr std::size_t kPreamble = sizeof(kMagic) + sizeof(std::uint32_t) + sizeof(std::uint64_t);
constexpr std::size_t kAlignment = 64;

std::size_t align_up(std::size_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

std::string dims_str(const std::vector<std::int64_t>& dims) {
  std::string out = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

std::vector<std::int64_t> dims_of(const Shape& shape) {
  std::vector<std::int64_t> dims;
  for (int i = 0; i < shape.rank(); ++i) dims.push_back(shape[i]);
  return dims;
}

// The tensor groups of a file: one per ParameterSet-shaped buffer.
constexpr const char* kSpib = "spib";
constexpr const char* kFlow = "flow";
std::string moment_group(const char* network, char moment) { return concat("optimizer.", network, ".", moment); }

// ---------------------------------------------------------------------------------------------
// Writing

json adam_json(const autodiff::Adam& adam) {
  const kernels::AdamConfig& c = adam.config();
  return {{"steps", adam.steps()},
          {"config",
           {{"learning_rate", c.learning_rate},
            {"beta1", c.beta1},
            {"beta2", c.beta2},
            {"epsilon", c.epsilon},
            {"weight_decay", c.weight_decay}}}};
}

// Lays out the data section: each parameter of a set becomes one 64-byte aligned blob.
class BlobWriter {
 public:
  explicit BlobWriter(const std::string& path) : path_(path) {}

  // `flat` holds one value per scalar of `params` (the values or an optimizer moment).
  void add_group(const std::string& group, const autodiff::ParameterSet& params, const Tensor& flat) {
    LATF_REQUIRE(flat.dtype() == DType::Float32, "cannot write checkpoint '", path_, "': group '", group, "' is ",
                 dtype_name(flat.dtype()), ", only float32 is stored");
    LATF_REQUIRE(flat.numel() == params.size(), "cannot write checkpoint '", path_, "': group '", group, "' has ",
                 flat.numel(), " values for ", params.size(), " parameters (optimizer of another model?)");
    const std::vector<float> values = flat.to_vector();
    for (int i = 0; i < params.count(); ++i) {
      const std::string& name = params.names()[i];
      const std::int64_t first = params.offset(i), count = params.shape(i).numel();
      for (std::int64_t j = 0; j < count; ++j)
        LATF_REQUIRE(std::isfinite(values[first + j]), "cannot write checkpoint '", path_, "': tensor '", group, "/",
                     name, "' holds a non-finite value (", values[first + j], ") at element ", j);
      data_.resize(align_up(data_.size()), '\0');
      const std::size_t offset = data_.size(), bytes = static_cast<std::size_t>(count) * sizeof(float);
      data_.resize(offset + bytes);
      if (bytes > 0) std::memcpy(data_.data() + offset, values.data() + first, bytes);
      entries_.push_back({{"group", group},
                          {"name", name},
                          {"dtype", "float32"},
                          {"shape", dims_of(params.shape(i))},
                          {"offset", offset},
                          {"bytes", bytes}});
    }
  }

  const std::string& data() const { return data_; }
  json entries() const { return entries_; }

 private:
  std::string path_;
  std::string data_;
  json entries_ = json::array();
};

// ---------------------------------------------------------------------------------------------
// Reading

// A JSON value with its dotted path in the header, so that every complaint names the key.
class Field {
 public:
  Field(const std::string& file, const json& value, std::string path)
      : file_(&file), value_(&value), path_(std::move(path)) {}

  template <class... Parts>
  [[noreturn]] void bad(const Parts&... parts) const {
    fail("checkpoint '", *file_, "': header key '", path_, "': ", parts...);
  }

  const json& json_value() const { return *value_; }
  const std::string& path() const { return path_; }

  bool has(const char* key) const { return value_->is_object() && value_->contains(key); }

  Field operator[](const char* key) const {
    const std::string child = path_.empty() ? key : path_ + "." + key;
    if (!value_->is_object()) bad("expected a JSON object, got ", value_->dump());
    const auto it = value_->find(key);
    if (it == value_->end()) fail("checkpoint '", *file_, "': header is missing key '", child, "'");
    return Field(*file_, *it, child);
  }

  std::size_t size() const {
    if (!value_->is_array()) bad("expected a JSON array, got ", value_->dump());
    return value_->size();
  }

  Field at(std::size_t i) const { return Field(*file_, (*value_)[i], concat(path_, "[", i, "]")); }

  std::int64_t integer(std::int64_t low, std::int64_t high) const {
    if (!value_->is_number_integer()) bad("expected an integer, got ", value_->dump());
    if (value_->is_number_unsigned() && value_->get<std::uint64_t>() > static_cast<std::uint64_t>(high))
      bad(value_->get<std::uint64_t>(), " is outside [", low, ", ", high, "]");
    const std::int64_t v = value_->get<std::int64_t>();
    if (v < low || v > high) bad(v, " is outside [", low, ", ", high, "]");
    return v;
  }

  int int32() const { return static_cast<int>(integer(INT_MIN, INT_MAX)); }

  std::uint64_t unsigned_integer() const {
    if (!value_->is_number_unsigned()) bad("expected a non-negative integer, got ", value_->dump());
    return value_->get<std::uint64_t>();
  }

  double number() const {
    if (!value_->is_number()) bad("expected a number, got ", value_->dump());
    const double v = value_->get<double>();
    if (!std::isfinite(v)) bad("expected a finite number, got ", value_->dump());
    return v;
  }

  bool boolean() const {
    if (!value_->is_boolean()) bad("expected true or false, got ", value_->dump());
    return value_->get<bool>();
  }

  const std::string& text() const {
    if (!value_->is_string()) bad("expected a string, got ", value_->dump());
    return value_->get_ref<const std::string&>();
  }

 private:
  const std::string* file_;
  const json* value_;
  std::string path_;
};

PhaseConfig read_phase(const Field& f) {
  PhaseConfig p;
  p.batch_size = f["batch_size"].int32();
  p.learning_rate = f["learning_rate"].number();
  p.lr_decay = f["lr_decay"].number();
  p.tolerance = f["tolerance"].number();
  p.patience = f["patience"].int32();
  p.refinements = f["refinements"].int32();
  p.max_epochs = f["max_epochs"].int32();
  return p;
}

LatfConfig read_config(const Field& f) {
  LatfConfig c;
  c.lag = f["lag"].int32();
  c.reference_temperature = f["reference_temperature"].number();
  c.validation_fraction = f["validation_fraction"].number();
  c.seed = f["seed"].unsigned_integer();
  const Field spib = f["spib"];
  const std::string& encoder = spib["encoder"].text();
  if (encoder != "linear" && encoder != "nonlinear")
    spib["encoder"].bad("expected \"linear\" or \"nonlinear\", got \"", encoder, "\"");
  c.spib.encoder = encoder == "linear" ? EncoderKind::Linear : EncoderKind::Nonlinear;
  c.spib.latent_dim = spib["latent_dim"].int32();
  c.spib.encoder_width = spib["encoder_width"].int32();
  c.spib.decoder_width = spib["decoder_width"].int32();
  c.spib.input_dependent_variance = spib["input_dependent_variance"].boolean();
  c.spib.beta = spib["beta"].number();
  c.spib.initial_states = spib["initial_states"].int32();
  const Field flow = f["flow"];
  c.flow.layers = flow["layers"].int32();
  c.flow.hidden = flow["hidden"].int32();
  c.flow.tau = flow["tau"].number();
  c.flow.scale_clamp = flow["scale_clamp"].number();
  c.spib_phase = read_phase(f["spib_phase"]);
  c.joint_phase = read_phase(f["joint_phase"]);
  return c;
}

std::vector<float> read_floats(const Field& f, std::size_t expected) {
  if (f.size() != expected) f.bad(f.size(), " values, expected ", expected, " (one per descriptor)");
  std::vector<float> values;
  for (std::size_t i = 0; i < expected; ++i) values.push_back(static_cast<float>(f.at(i).number()));
  return values;
}

// The destination of one tensor group while loading.
struct GroupTarget {
  const autodiff::ParameterSet* params = nullptr;
  std::vector<float> values;  // flat, filled blob by blob
  std::vector<bool> seen;     // per parameter
};

class Loader {
 public:
  Loader(const std::string& path, const Device& device) : path_(path), device_(device) {}

  Checkpoint load() {
    read_file();
    check_preamble();
    parse_header();
    const Field root(path_, header_, "");
    const std::uint64_t declared = root["format_version"].unsigned_integer();
    if (declared != version_)
      root["format_version"].bad(declared, " disagrees with the version ", version_, " in the file's preamble");
    root["engine_version"].text();
    check_data_size(root["data_size"].unsigned_integer());

    const LatfConfig config = read_config(root["config"]);
    try {
      validate(config);
    } catch (const InvalidArgument& e) {
      bad("invalid config: ", e.what());
    }
    Checkpoint result{build_model(root["model"], config), read_metadata(root["metadata"]), {}, {}};
    std::map<std::string, GroupTarget> groups;
    groups[kSpib].params = &result.model.spib->parameters();
    groups[kFlow].params = &result.model.flow->parameters();
    const Field optimizers = root["optimizers"];
    if (!optimizers.json_value().is_object())
      optimizers.bad("expected a JSON object, got ", optimizers.json_value().dump());
    for (const auto& [name, value] : optimizers.json_value().items())
      if (name != kSpib && name != kFlow) optimizers.bad("unknown optimizer '", name, "' (expected spib or flow)");
    std::optional<OptimizerState>* states[] = {&result.spib_optimizer, &result.flow_optimizer};
    for (int n = 0; n < 2; ++n) {
      const char* network = n == 0 ? kSpib : kFlow;
      if (!optimizers.has(network)) continue;
      *states[n] = read_optimizer(optimizers[network], network);
      groups[moment_group(network, 'm')].params = groups[network].params;
      groups[moment_group(network, 'v')].params = groups[network].params;
    }
    read_tensors(root["tensors"], groups);

    for (int n = 0; n < 2; ++n) {
      const char* network = n == 0 ? kSpib : kFlow;
      Tensor flat = groups[network].params->flat_values();
      flat.copy_from(Tensor::from_vector(groups[network].values, flat.shape(), device_));
      if (!states[n]->has_value()) continue;
      OptimizerState& state = **states[n];
      state.first_moment = Tensor::from_vector(groups[moment_group(network, 'm')].values, flat.shape(), device_);
      state.second_moment = Tensor::from_vector(groups[moment_group(network, 'v')].values, flat.shape(), device_);
    }
    return result;
  }

 private:
  template <class... Parts>
  [[noreturn]] void bad(const Parts&... parts) const {
    fail("checkpoint '", path_, "': ", parts...);
  }

  void read_file() {
    std::error_code error;
    const auto status = std::filesystem::status(path_, error);
    if (!std::filesystem::exists(status)) bad("no such file");
    if (!std::filesystem::is_regular_file(status)) bad("not a regular file");
    std::ifstream in(path_, std::ios::binary);
    if (!in) bad("cannot open the file for reading");
    bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) bad("read failed");
  }

  void check_preamble() {
    const std::size_t size = bytes_.size();
    if (size == 0) bad("truncated: the file is empty");
    if (std::memcmp(bytes_.data(), kMagic, std::min(size, sizeof(kMagic))) != 0)
      bad("not a LaTF checkpoint (the file does not start with the magic \"LATFCKPT\")");
    if (size < kPreamble) bad("truncated: ", size, " bytes, shorter than the ", kPreamble, "-byte preamble");
    std::memcpy(&version_, bytes_.data() + sizeof(kMagic), sizeof(version_));
    if (version_ > kCheckpointVersion)
      bad("format version ", version_, " is newer than this engine reads (version ", kCheckpointVersion,
          "); load it with a newer LaTF");
    if (version_ != kCheckpointVersion)
      bad("unsupported format version ", version_, " (this engine reads version ", kCheckpointVersion, ")");
    std::memcpy(&header_length_, bytes_.data() + sizeof(kMagic) + sizeof(version_), sizeof(header_length_));
    if (header_length_ > size - kPreamble)
      bad("truncated: the header needs ", header_length_, " bytes after the preamble, only ", size - kPreamble,
          " follow it");
  }

  void parse_header() {
    const char* begin = bytes_.data() + kPreamble;
    try {
      header_ = json::parse(begin, begin + header_length_);
    } catch (const json::exception& e) {
      bad("the header is not valid JSON (", e.what(), ")");
    }
    if (!header_.is_object()) bad("the header is not a JSON object");
  }

  void check_data_size(std::uint64_t data_size) {
    data_start_ = align_up(kPreamble + header_length_);
    const std::size_t size = bytes_.size();
    if (size < data_start_ || data_size > size - data_start_)
      bad("truncated: ", size, " bytes, the header describes ", data_start_ + data_size);
    if (data_size < size - data_start_)
      bad(size - data_start_ - data_size, " unexpected bytes after the data section (", size,
          " bytes, the header describes ", data_start_ + data_size, ")");
    data_size_ = data_size;
  }

  // A lower bound on the bytes any file of this model holds, checked before allocating the
  // model so that a corrupted size cannot demand gigabytes.
  void check_model_fits(const LatfConfig& c, int descriptors, int states) const {
    const double d = c.spib.latent_dim, width = c.spib.decoder_width, hidden = c.flow.hidden;
    const double encoder =
        c.spib.encoder == EncoderKind::Linear ? descriptors * d : double(c.spib.encoder_width) * c.spib.encoder_width;
    const double needed = sizeof(float) * (double(states) * descriptors + width * width + encoder +
                                           c.flow.layers * (hidden * hidden + d));
    if (needed > static_cast<double>(data_size_))
      bad("the data section (", data_size_,
          " bytes) is too small for the model its header describes (D = ", descriptors, ", K = ", states, ", at least ",
          std::fixed, std::setprecision(0), needed, " bytes): a size in the header is corrupt");
  }

  LatfModel build_model(const Field& f, const LatfConfig& config) {
    const int descriptors = descriptors_ = static_cast<int>(f["descriptors"].integer(1, INT_MAX));
    const int states = states_ = static_cast<int>(f["states"].integer(2, INT_MAX));
    latent_ = f["latent_dim"].int32();
    if (latent_ != config.spib.latent_dim)
      f["latent_dim"].bad(latent_, " disagrees with config.spib.latent_dim = ", config.spib.latent_dim);
    const double reference_temperature = f["reference_temperature"].number();
    if (reference_temperature <= 0) f["reference_temperature"].bad("expected > 0, got ", reference_temperature);
    check_model_fits(config, descriptors, states);
    Normalization normalization;
    normalization.mean = read_floats(f["normalization"]["mean"], descriptors);
    normalization.scale = read_floats(f["normalization"]["scale"], descriptors);
    for (std::size_t i = 0; i < normalization.scale.size(); ++i) {
      // number() checked the doubles; the float32 conversion can still overflow.
      if (!std::isfinite(normalization.mean[i]))
        f["normalization"]["mean"].at(i).bad("overflows float32 (", normalization.mean[i], ")");
      if (!(normalization.scale[i] > 0) || !std::isfinite(normalization.scale[i]))
        f["normalization"]["scale"].at(i).bad("expected a positive finite float32 scale, got ", normalization.scale[i]);
    }
    try {
      return LatfModel::create(config, descriptors, states, std::move(normalization), reference_temperature, device_);
    } catch (const InvalidArgument& e) {
      bad("cannot build the model it describes: ", e.what());
    }
  }

  // Steps and settings; the moments come with the tensors.
  OptimizerState read_optimizer(const Field& f, const char* network) const {
    OptimizerState state;
    state.steps = f["steps"].integer(0, INT64_MAX);
    const Field c = f["config"];
    state.config.learning_rate = static_cast<float>(c["learning_rate"].number());
    state.config.beta1 = static_cast<float>(c["beta1"].number());
    state.config.beta2 = static_cast<float>(c["beta2"].number());
    state.config.epsilon = static_cast<float>(c["epsilon"].number());
    state.config.weight_decay = static_cast<float>(c["weight_decay"].number());
    try {
      kernels::validate(state.config);
    } catch (const InvalidArgument& e) {
      bad("invalid ", network, " optimizer config: ", e.what());
    }
    return state;
  }

  std::map<std::string, std::string> read_metadata(const Field& f) const {
    if (!f.json_value().is_object()) f.bad("expected a JSON object, got ", f.json_value().dump());
    std::map<std::string, std::string> metadata;
    for (const auto& [key, value] : f.json_value().items()) metadata[key] = f[key.c_str()].text();
    return metadata;
  }

  std::string model_summary() const { return concat("D = ", descriptors_, ", K = ", states_, ", d = ", latent_); }

  void read_tensors(const Field& list, std::map<std::string, GroupTarget>& groups) {
    for (auto& [name, target] : groups) {
      target.values.assign(static_cast<std::size_t>(target.params->size()), 0.f);
      target.seen.assign(static_cast<std::size_t>(target.params->count()), false);
    }
    const std::size_t count = list.size();
    for (std::size_t t = 0; t < count; ++t) {
      const Field entry = list.at(t);
      const std::string& group = entry["group"].text();
      const std::string& name = entry["name"].text();
      const std::string label = group + "/" + name;
      const auto target = groups.find(group);
      if (target == groups.end())
        entry["group"].bad("unknown tensor group '", group, "' (an optimizer group needs its entry in 'optimizers')");
      const autodiff::ParameterSet& params = *target->second.params;
      int index = -1;
      for (int i = 0; i < params.count() && index < 0; ++i)
        if (params.names()[i] == name) index = i;
      if (index < 0)
        bad("tensor '", label, "' is not a parameter of the model the header describes (", model_summary(), ")");
      if (target->second.seen[index]) bad("tensor '", label, "' appears twice");
      target->second.seen[index] = true;
      if (entry["dtype"].text() != "float32") entry["dtype"].bad("tensor '", label, "': only float32 is supported");
      const Field shape_field = entry["shape"];
      std::vector<std::int64_t> dims;
      for (std::size_t i = 0; i < shape_field.size(); ++i) dims.push_back(shape_field.at(i).integer(0, INT64_MAX / 8));
      const std::vector<std::int64_t> expected = dims_of(params.shape(index));
      if (dims != expected)
        bad("tensor '", label, "': shape ", dims_str(dims), " in the file, the model the header describes (",
            model_summary(), ") needs ", dims_str(expected));
      const std::uint64_t offset = entry["offset"].unsigned_integer(), bytes = entry["bytes"].unsigned_integer();
      const std::uint64_t needed = static_cast<std::uint64_t>(params.shape(index).numel()) * sizeof(float);
      if (bytes != needed)
        bad("tensor '", label, "': ", bytes, " bytes for shape ", dims_str(dims), " (", needed, " expected)");
      if (offset % kAlignment != 0) bad("tensor '", label, "': offset ", offset, " is not a multiple of ", kAlignment);
      if (offset > data_size_ || bytes > data_size_ - offset)
        bad("tensor '", label, "': bytes [", offset, ", ", offset + bytes, ") lie outside the ", data_size_,
            "-byte data section");
      float* destination = target->second.values.data() + params.offset(index);
      std::memcpy(destination, bytes_.data() + data_start_ + offset, bytes);
      for (std::uint64_t j = 0; j < bytes / sizeof(float); ++j)
        if (!std::isfinite(destination[j]))
          bad("tensor '", label, "' holds a non-finite value (", destination[j], ") at element ", j);
    }
    for (const auto& [group, target] : groups)
      for (int i = 0; i < target.params->count(); ++i)
        if (!target.seen[i]) bad("tensor '", group, "/", target.params->names()[i], "' is missing");
  }

  std::string path_;
  Device device_;
  std::vector<char> bytes_;
  std::uint32_t version_ = 0;
  std::uint64_t header_length_ = 0;
  json header_;
  std::size_t data_start_ = 0;
  std::uint64_t data_size_ = 0;
  int descriptors_ = 0, states_ = 0, latent_ = 0;
};

}  // namespace

void save_checkpoint(const std::string& path, const LatfModel& model,
                     const std::map<std::string, std::string>& metadata, const autodiff::Adam* spib_optimizer,
                     const autodiff::Adam* flow_optimizer) {
  LATF_REQUIRE(model.spib && model.flow, "cannot write checkpoint '", path, "': the model has no ",
               model.spib ? "flow" : "SPIB networks");
  const int descriptors = model.spib->shape().inputs;
  LATF_REQUIRE(model.normalization.mean.size() == static_cast<std::size_t>(descriptors) &&
                   model.normalization.scale.size() == static_cast<std::size_t>(descriptors),
               "cannot write checkpoint '", path, "': normalisation has ", model.normalization.mean.size(),
               " means and ", model.normalization.scale.size(), " scales for ", descriptors, " descriptors");

  BlobWriter blobs(path);
  const autodiff::ParameterSet& spib = model.spib->parameters();
  const autodiff::ParameterSet& flow = model.flow->parameters();
  blobs.add_group(kSpib, spib, spib.flat_values());
  blobs.add_group(kFlow, flow, flow.flat_values());
  json optimizers = json::object();
  const std::pair<const char*, const autodiff::Adam*> adams[] = {{kSpib, spib_optimizer}, {kFlow, flow_optimizer}};
  for (const auto& [network, adam] : adams) {
    if (!adam) continue;
    const autodiff::ParameterSet& params = network == std::string(kSpib) ? spib : flow;
    blobs.add_group(moment_group(network, 'm'), params, adam->first_moment());
    blobs.add_group(moment_group(network, 'v'), params, adam->second_moment());
    optimizers[network] = adam_json(*adam);
  }

  json header = {{"format_version", kCheckpointVersion},
                 {"engine_version", LATF_ENGINE_VERSION},
                 {"config", config_to_json(model.config)},
                 {"model",
                  {{"descriptors", descriptors},
                   {"states", model.spib->states()},
                   {"latent_dim", model.latent_dim()},
                   {"reference_temperature", model.reference_temperature},
                   {"normalization", {{"mean", model.normalization.mean}, {"scale", model.normalization.scale}}}}},
                 {"optimizers", std::move(optimizers)},
                 {"metadata", metadata},
                 {"data_size", blobs.data().size()},
                 {"tensors", blobs.entries()}};
  std::string text;
  try {
    text = header.dump(1);
  } catch (const json::exception& e) {  // e.g. metadata that is not UTF-8
    fail("cannot write checkpoint '", path, "': the header cannot be encoded (", e.what(), ")");
  }

  const std::uint64_t header_length = text.size();
  std::string file(kMagic, sizeof(kMagic));
  file.append(reinterpret_cast<const char*>(&kCheckpointVersion), sizeof(kCheckpointVersion));
  file.append(reinterpret_cast<const char*>(&header_length), sizeof(header_length));
  file += text;
  file.resize(align_up(file.size()), '\0');
  file += blobs.data();
  data::write_file_atomically(path, file.data(), file.size());
}

Checkpoint load_checkpoint(const std::string& path, const Device& device) { return Loader(path, device).load(); }

}  // namespace latf::models
