#pragma once
// A training step replayed as a CUDA Graph. On a CUDA device the first run() of a key records
// every kernel the step queues on the device's stream and launches the recording; later run()s of
// that key launch the recording again without running the step's host code (no tape, no op
// dispatch, no launch overhead per kernel). On the CPU run() simply calls the step: there is no
// launch cost to save, and the same step code is what the CPU tests check.
//
// A step can be replayed only if
//  - everything it reads or writes stays allocated at the same address while its graph lives:
//    the caller keeps the step's tape (its intermediate tensors), batch buffers and parameters
//    alive and does not clear them between runs;
//  - whatever changes from one step to the next is read from device memory, not passed as a
//    kernel argument (the batch position, the noise streams, Adam's step counts);
//  - it never synchronises with the host (no copy to or from host memory, no read of a value).
// A step that breaks the last rule fails its capture with a GraphRecordingError that says so.
#include <cstdint>
#include <functional>
#include <map>

#include "engine/device.hpp"
#include "engine/error.hpp"
#include "engine/memory.hpp"

namespace latf {

// Thrown when a step cannot be recorded. Nothing of the step has run then (a recording queues
// nothing), so the caller may run it op by op instead.
class GraphRecordingError : public BackendError {
 public:
  using BackendError::BackendError;
};

class StepGraphs {
 public:
  explicit StepGraphs(const Device& device) : device_(device) {}
  ~StepGraphs();
  StepGraphs(const StepGraphs&) = delete;
  StepGraphs& operator=(const StepGraphs&) = delete;

  // Runs the step whose shape is `key` (one graph per key: e.g. the full batch and the last,
  // partial one). On CUDA `step` is called only on a key's first run, to record it.
  void run(std::int64_t key, const std::function<void()>& step);
  // Recorded graphs (always 0 on the CPU).
  std::size_t graphs() const { return graphs_.size(); }
  // Forgets every recording, e.g. when the buffers the step uses are reallocated.
  void clear();

 private:
  struct Recording {
    void* graph = nullptr;               // cudaGraphExec_t
    Reservation* memory = nullptr;       // the addresses it replays (engine/memory.hpp)
  };
  Device device_;
  std::map<std::int64_t, Recording> graphs_;
};

}  // namespace latf
