// The workers hosts run on: a oneTBB task_arena of pool_size, and the
// process-wide permission for TBB to run that many threads at once.
#pragma once

#include <cstddef>
#include <functional>

#include <tbb/task_arena.h>

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

class WorkerPool {
 public:
  explicit WorkerPool(std::size_t size);
  /// Queues `task`; it must not throw (oneTBB would cancel its siblings).
  void submit(std::function<void()> task);
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  ParallelismLease lease_;
  tbb::task_arena arena_;
};

}  // namespace pssh::detail
