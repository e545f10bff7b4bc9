#pragma once
#include <string>

namespace latf {

enum class DeviceKind { CPU, CUDA };

struct Device {
  DeviceKind kind = DeviceKind::CPU;
  int index = 0;

  static Device cpu() { return {DeviceKind::CPU, 0}; }
  static Device cuda(int index = 0) { return {DeviceKind::CUDA, index}; }
  bool is_cpu() const { return kind == DeviceKind::CPU; }
  bool is_cuda() const { return kind == DeviceKind::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

// True when this build has the CUDA backend compiled in.
bool cuda_compiled();
// Number of usable CUDA devices (0 without a driver, a device, or the CUDA backend).
int cuda_device_count();
// Parses "auto", "cpu", "cuda" or "cuda:N"; "auto" picks cuda:0 when one is usable.
Device parse_device(const std::string& text);
// Throws InvalidArgument naming the device if it cannot be used in this process.
void require_usable(const Device& device);
// Waits for all work queued on the device (no-op on the CPU).
void synchronize(const Device& device);

}  // namespace latf
