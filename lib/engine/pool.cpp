// Sizing TBB for blocking work. global_control is process-wide and the
// smallest live max_allowed_parallelism wins, so one shared control is kept
// at the largest size any live pool needs.
#include "engine/pool.hpp"

#include <pssh/errors.hpp>

#include <tbb/global_control.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

namespace pssh::detail {
namespace {

// libtbb is not built with ThreadSanitizer, so TSan cannot see that a task
// enqueued on one thread happens before it runs on a worker. These calls
// state that edge; they cost nothing in other builds.
#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* address);
extern "C" void __tsan_release(void* address);
char handoff_token;
void announce_handoff() { __tsan_release(&handoff_token); }
void accept_handoff() { __tsan_acquire(&handoff_token); }
#else
void announce_handoff() {}
void accept_handoff() {}
#endif

/// libssh writes to the agent with write(2), so a write on an agent
/// connection that a stop has cut would raise SIGPIPE and end the process.
/// Workers block it (once per thread): the write fails with EPIPE instead.
void block_sigpipe() {
  thread_local const bool blocked = [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return pthread_sigmask(SIG_BLOCK, &set, nullptr) == 0;
  }();
  (void)blocked;
}

struct ParallelismRegistry {
  std::mutex mutex;
  std::multiset<std::size_t> sizes;
  std::unique_ptr<tbb::global_control> control;
  std::size_t controlled = 0;
  std::optional<tbb::task_scheduler_handle> scheduler;  // lets finalize() end the workers

  std::size_t total() const {
    std::size_t sum = 0;
    for (std::size_t size : sizes) sum += size;
    return sum;
  }

  void update() {
    if (sizes.empty()) {
      release();
      return;
    }
    if (!scheduler) scheduler.emplace(tbb::attach{});
    // TBB's workers are shared by every arena: each live pool needs its own
    // share, or one client's blocked hosts starve another's (two Clients of
    // pool_size 1 on 2 cores had one worker between them).
    std::size_t wanted = std::max<std::size_t>(std::thread::hardware_concurrency(), 1);
    wanted = std::max(wanted, total() + 1);
    if (wanted == controlled) return;
    // The new control must exist before the old one goes, else TBB briefly
    // falls back to the default limit.
    auto next = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, wanted);
    control = std::move(next);
    controlled = wanted;
  }

  /// The last pool is gone: TBB's default limit again, and its worker
  /// threads ended. finalize() declines (false) while the application has
  /// TBB work of its own; its workers then stay, as they would without pssh.
  void release() {
    control.reset();
    controlled = 0;
    if (scheduler) (void)tbb::finalize(*scheduler, std::nothrow);
    scheduler.reset();
  }
};

ParallelismRegistry& registry() {
  static ParallelismRegistry instance;
  return instance;
}

}  // namespace

ParallelismLease::ParallelismLease(std::size_t size) : size_(size) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.sizes.insert(size_);
  r.update();
  // This pool alone must get its workers. TBB gives the sum of the pools
  // where it can; its own cap on workers (max(256, 4 x cores), or more if
  // the first pool was larger, fixed when TBB starts) may leave the sum
  // short, which only makes hosts of one client wait for another's.
  std::size_t allowed =
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  if (allowed < size_ + 1) {
    r.sizes.erase(r.sizes.find(size_));
    r.update();
    throw ConfigError(
        "", "pool_size " + std::to_string(size_) + " needs oneTBB to allow " +
        std::to_string(size_ + 1) + " threads, but it allows " + std::to_string(allowed) +
        " (the application's tbb::global_control max_allowed_parallelism, or TBB's worker " +
        "limit, fixed when TBB started); raise that limit or lower pool_size");
  }
}

ParallelismLease::~ParallelismLease() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.sizes.erase(r.sizes.find(size_));
  r.update();
}

// No slot is reserved for an application thread: callers never join the
// arena, they wait on futures.
WorkerPool::WorkerPool(std::size_t size)
    : size_(std::max<std::size_t>(size, 1)), lease_(size_), arena_(static_cast<int>(size_), 0) {}

WorkerPool::~WorkerPool() {
  wait();
  {
    std::lock_guard lock(mutex_);
    ending_ = true;
  }
  queued_.notify_all();
  // Waiting inside the arena, this thread runs a runner no worker has taken
  // yet (TBB's workers may all be busy in other clients' pools): it ends at
  // once. TBB's task objects are gone after this. Debian's oneTBB 2021.8 has
  // no task_arena::wait_for(task_group).
  arena_.execute([this] { group_.wait(); });
}

bool WorkerPool::submit(std::function<void()> task) {
  std::unique_lock lock(mutex_);
  bool waits = outstanding_ >= size_;
  queue_.push_back(std::move(task));
  ++outstanding_;
  // A free runner or one on its way for each queued task, else a new
  // runner if one may start. Several submits may come before a woken runner
  // takes its task: each counts the whole queue, not only its own task.
  if (free_runners_ > 0) queued_.notify_one();
  if (queue_.size() > free_runners_ + unstarted_runners_ && runners_ < size_) start_runner(lock);
  return waits;
}

void WorkerPool::start_runner(std::unique_lock<std::mutex>&) {
  ++runners_;
  ++unstarted_runners_;
  tbb::task_handle runner = group_.defer([this] {
    accept_handoff();
    run_queue();
  });
  announce_handoff();
  arena_.enqueue(std::move(runner));
}

void WorkerPool::run_queue() {
  std::unique_lock lock(mutex_);
  --unstarted_runners_;
  for (;;) {
    ++free_runners_;
    bool woken = queued_.wait_for(lock, linger, [this] { return !queue_.empty() || ending_; });
    --free_runners_;
    if (!woken || queue_.empty()) break;  // lingered long enough, or the pool ends
    std::function<void()> task = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    block_sigpipe();  // here, not before: the destructor's thread may run an idle runner
    task();
    task = nullptr;  // its captures die before the count below says it is done
    lock.lock();
    if (--outstanding_ == 0) idle_.notify_all();
  }
  --runners_;
}

void WorkerPool::wait() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return outstanding_ == 0; });
}

}  // namespace pssh::detail
