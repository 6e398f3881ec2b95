// The workers hosts run on: oneTBB task_arenas whose slots add up to
// pool_size, and the process-wide permission for TBB to run that many
// threads at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

namespace pssh::detail {

/// Keeps tbb::global_control's max_allowed_parallelism at least the sum of
/// the live pools' sizes + 1 while it lives. TBB otherwise caps every arena
/// at the core count, and a pool of blocking sessions would run only that
/// many hosts at once. ConfigError if this pool alone cannot have its threads
/// (the application holds a smaller limit, or TBB's worker limit is lower).
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
///
/// Tasks wait in the pool's own queue because they must start in the order
/// they came: a host told it does not wait must not be overtaken by hosts
/// submitted after it (they may wait on its connection), and oneTBB's
/// task_arena::enqueue is not FIFO (it pushes to and pops from random lanes).
/// A TBB task is a runner: it runs the oldest queued task, then the next, and
/// when the queue is empty it waits on the pool's condition variable for
/// another task, for `linger` at most, then ends. There are never more
/// runners than `size`; one is started only when the queue holds more tasks
/// than there are free runners and runners on their way to a worker.
///
/// Runners linger because a oneTBB worker whose task returns spins before it
/// sleeps: about 2 x (its arena's slots + 1) pauses, then 100 sched_yield
/// calls. A runner per host ending after each connect or command cost 90
/// yields per host at 100 hosts, each a context switch. They do not stay
/// longer because TBB's workers are shared: an idle client's sleeping runners
/// would hold workers another client needs.
///
/// One arena of `size` slots. Arenas of at most 16 slots each (shorter
/// spins) lost runners: oneTBB 2021.8 sometimes left a runner enqueued in
/// one arena while workers slept, so 30 hosts of pool_size 32 ran in two
/// waves, and a run whose hosts wait on each other (prsync) never ended.
class WorkerPool {
 public:
  /// How long a runner waits for the next task: longer than the gap between
  /// a program's calls (connect_auth, run_command, join), short enough that
  /// an idle client soon gives its workers back.
  static constexpr std::chrono::milliseconds linger{250};

  explicit WorkerPool(std::size_t size);
  /// Waits for every task, then ends the runners (running on this thread
  /// any that never reached a worker).
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
  /// Starts a runner. Called with the mutex held.
  void start_runner(std::unique_lock<std::mutex>& lock);
  void run_queue();

  std::size_t size_;
  ParallelismLease lease_;
  std::mutex mutex_;
  std::condition_variable idle_;    // no task left
  std::condition_variable queued_;  // a task or the end for a free runner
  std::deque<std::function<void()>> queue_;
  std::size_t outstanding_ = 0;  // queued or running
  std::size_t runners_ = 0;  // started, perhaps not yet on a worker
  std::size_t unstarted_runners_ = 0;  // not yet on a worker
  std::size_t free_runners_ = 0;  // waiting on queued_
  bool ending_ = false;
  tbb::task_arena arena_;
  tbb::task_group group_;
};

}  // namespace pssh::detail
