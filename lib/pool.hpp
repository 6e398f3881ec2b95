// The workers hosts run on: a oneTBB task_arena of pool_size, and the
// process-wide permission for TBB to run that many threads at once.
#pragma once

#include <cstddef>
#include <functional>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

namespace pssh::detail {

/// Keeps tbb::global_control's max_allowed_parallelism at least `size` + 1
/// while it lives. TBB otherwise caps every arena at the core count, and a
/// pool of blocking sessions would run only that many hosts at once.
class ParallelismLease {
 public:
  explicit ParallelismLease(std::size_t size);
  ~ParallelismLease();
  ParallelismLease(const ParallelismLease&) = delete;
  ParallelismLease& operator=(const ParallelismLease&) = delete;

 private:
  std::size_t size_;
};

/// Runs tasks on `size` threads at most. Tasks belong to one task_group, so
/// wait() returns only once every task ran and its captures were destroyed:
/// nothing a task holds (a session, a host's state) outlives the pool's owner.
class WorkerPool {
 public:
  explicit WorkerPool(std::size_t size);
  /// Waits for every task.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; it must not throw (oneTBB would cancel its siblings).
  void submit(std::function<void()> task);
  /// Blocks until every submitted task is done.
  void wait();
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  ParallelismLease lease_;
  tbb::task_arena arena_;
  tbb::task_group group_;
};

}  // namespace pssh::detail
