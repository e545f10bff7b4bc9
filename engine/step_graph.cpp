#include "engine/step_graph.hpp"

#include <exception>
#include <stdexcept>

#include "engine/cuda_runtime.hpp"
#include "engine/error.hpp"

namespace latf {

StepGraphs::~StepGraphs() { clear(); }

void StepGraphs::clear() {
  for (auto& [key, recording] : graphs_) {
    cuda::destroy_graph(recording.graph);
    release_reservation(recording.memory);
  }
  graphs_.clear();
}

void StepGraphs::run(std::int64_t key, const std::function<void()>& step) {
  if (!device_.is_cuda()) {
    step();
    return;
  }
  auto found = graphs_.find(key);
  if (found == graphs_.end()) {
    Recording recording;
    recording.memory = begin_reservation(device_);
    try {
      cuda::begin_capture(device_.index);
      try {
        step();
      } catch (...) {
        cuda::abort_capture(device_.index);
        throw;
      }
      recording.graph = cuda::end_capture(device_.index);
    } catch (const std::exception& e) {
      release_reservation(recording.memory);
      throw GraphRecordingError(concat("the training step cannot be recorded as a CUDA Graph (it must not synchronise "
                                "with the host or reallocate its buffers between steps): ",
                                e.what()));
    }
    end_reservation(device_);
    found = graphs_.emplace(key, recording).first;
  }
  cuda::launch_graph(found->second.graph, device_.index);
}

}  // namespace latf
