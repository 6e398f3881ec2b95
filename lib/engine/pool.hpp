// The workers hosts run on: a oneTBB task_arena of pool_size, and the
// process-wide permission for TBB to run that many threads at once.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

namespace pssh::detail {

/// Keeps tbb::global_control's max_allowed_parallelism at least the sum of
/// the live pools' sizes + 1 while it lives. TBB otherwise caps every arena at the core count, and a
/// pool of blocking sessions would run only that many hosts at once.
/// std::runtime_error if this pool alone cannot have its threads (the
/// application holds a smaller limit, or TBB's worker limit is lower).
/// When the last lease goes, the limit is released and TBB's worker threads
/// are ended (tbb::finalize), so that no thread outlives the last client.
class ParallelismLease {
 public:
  explicit ParallelismLease(std::size_t size);
  ~ParallelismLease();
  ParallelismLease(const ParallelismLease&) = delete;
  ParallelismLease& operator=(const ParallelismLease&) = delete;

 private:
  std::size_t size_;
};

/// Runs tasks on `size` threads at most. wait() returns only once every task
/// ran and its captures were destroyed: nothing a task holds (a session, a
/// host's state) outlives the pool's owner.
/// Tasks wait in the pool's own queue because they must start in the order
/// they came: a host told it does not wait must not be overtaken by hosts
/// submitted after it (they may wait on its connection), and oneTBB's
/// task_arena::enqueue is not FIFO (it pushes to and pops from random lanes).
/// TBB's tasks only carry the pool; each pops the oldest task.
class WorkerPool {
 public:
  explicit WorkerPool(std::size_t size);
  /// Waits for every task.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// Queues `task`; it must not throw (oneTBB would cancel its siblings).
  /// True if it waits for a worker: all `size` of them are busy.
  bool submit(std::function<void()> task);
  /// Blocks until every submitted task is done.
  void wait();
  std::size_t size() const noexcept { return size_; }

 private:
  void run_next();

  std::size_t size_;
  ParallelismLease lease_;
  std::mutex mutex_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  std::size_t outstanding_ = 0;  // queued or running
  tbb::task_arena arena_;
  tbb::task_group group_;
};

}  // namespace pssh::detail
