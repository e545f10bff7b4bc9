#include "engine/device.hpp"

#include "engine/error.hpp"
#include "engine/cuda_runtime.hpp"

namespace latf {

std::string Device::str() const {
  return is_cpu() ? std::string("cpu") : concat("cuda:", index);
}

bool cuda_compiled() { return LATF_WITH_CUDA != 0; }

int cuda_device_count() { return cuda::device_count(); }

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "auto") return cuda_device_count() > 0 ? Device::cuda(0) : Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    LATF_REQUIRE(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
                 "device '", text, "': expected auto, cpu, cuda or cuda:N with N a device index");
    return Device::cuda(std::stoi(digits));
  }
  fail("device '", text, "': expected auto, cpu, cuda or cuda:N");
}

void require_usable(const Device& device) {
  if (device.is_cpu()) return;
  LATF_REQUIRE(cuda_compiled(), "device ", device.str(), ": this build has no CUDA backend");
  const int count = cuda_device_count();
  LATF_REQUIRE(device.index >= 0 && device.index < count, "device ", device.str(),
               ": expected an index below the ", count, " usable CUDA device(s)");
}

void synchronize(const Device& device) {
  if (device.is_cuda()) cuda::synchronize(device.index);
}

}  // namespace latf
