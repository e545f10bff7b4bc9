// Graph recording support that runs on the CPU: the pool's reservations (memory a recorded CUDA
// Graph replays must never be handed to anyone else) and StepGraphs' CPU behaviour.
#include <gtest/gtest.h>

#include "engine/memory.hpp"
#include "engine/step_graph.hpp"
#include "engine/tensor.hpp"
#include "tests/support.hpp"

namespace latf {
namespace {

constexpr std::size_t kBytes = 12345;  // a size class no other test of this binary holds on to

TEST(PoolReservation, ReleasedBlocksStayWithTheRecording) {
  const Device cpu = Device::cpu();
  Reservation* recording = begin_reservation(cpu);
  MemoryBlock* temporary = acquire_block(kBytes, cpu);
  void* address = temporary->data;
  release_block(temporary);  // a temporary of the recorded step
  MemoryBlock* again = acquire_block(kBytes, cpu);  // the same recording may reuse it
  EXPECT_EQ(again->data, address);
  release_block(again);
  end_reservation(cpu);

  MemoryBlock* outsider = acquire_block(kBytes, cpu);  // the rest of the program may not
  EXPECT_NE(outsider->data, address);
  release_block(outsider);

  release_reservation(recording);
  bool returned = false;  // now the block is the pool's again
  std::vector<MemoryBlock*> taken;
  for (int i = 0; i < 4 && !returned; ++i) {
    taken.push_back(acquire_block(kBytes, cpu));
    returned = taken.back()->data == address;
  }
  for (MemoryBlock* b : taken) release_block(b);
  EXPECT_TRUE(returned);
}

TEST(PoolReservation, BlocksInUseReturnToThePoolWhenReleasedAfterTheReservation) {
  const Device cpu = Device::cpu();
  Reservation* recording = begin_reservation(cpu);
  MemoryBlock* held = acquire_block(kBytes, cpu);  // e.g. a tape value the graph keeps using
  void* address = held->data;
  end_reservation(cpu);
  release_reservation(recording);
  EXPECT_EQ(held->reservation, nullptr);
  release_block(held);
  MemoryBlock* next = acquire_block(kBytes, cpu);
  EXPECT_EQ(next->data, address);
  release_block(next);
}

TEST(PoolReservation, OneRecordingPerDeviceAtATime) {
  const Device cpu = Device::cpu();
  Reservation* first = begin_reservation(cpu);
  testing::expect_invalid_argument([&] { begin_reservation(cpu); }, "a graph recording is already running");
  end_reservation(cpu);
  release_reservation(first);
}

TEST(StepGraphs, OnTheCpuEveryRunCallsTheStep) {
  StepGraphs graphs(Device::cpu());
  Tensor counter = Tensor::zeros({1});
  for (int i = 0; i < 3; ++i) graphs.run(512, [&] { counter.data<float>()[0] += 1; });
  graphs.run(17, [&] { counter.data<float>()[0] += 10; });
  EXPECT_EQ(counter.item(), 13.f);
  EXPECT_EQ(graphs.graphs(), 0u);
}

}  // namespace
}  // namespace latf
