// Sizing TBB for blocking work. global_control is process-wide and the
// smallest live max_allowed_parallelism wins, so one shared control is kept
// at the largest size any live pool needs.
#include "pool.hpp"

#include <tbb/global_control.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>
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

struct ParallelismRegistry {
  std::mutex mutex;
  std::multiset<std::size_t> sizes;
  std::unique_ptr<tbb::global_control> control;
  std::size_t controlled = 0;

  void update() {
    std::size_t wanted = std::max<std::size_t>(std::thread::hardware_concurrency(), 1);
    if (!sizes.empty()) wanted = std::max(wanted, *sizes.rbegin() + 1);
    if (wanted == controlled) return;
    // The new control must exist before the old one goes, else TBB briefly
    // falls back to the default limit.
    auto next = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, wanted);
    control = std::move(next);
    controlled = wanted;
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
}

ParallelismLease::~ParallelismLease() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.sizes.erase(r.sizes.find(size_));
  r.update();
}

WorkerPool::WorkerPool(std::size_t size)
    : size_(std::max<std::size_t>(size, 1)),
      lease_(size_),
      // No slot is reserved for an application thread: callers never join the
      // arena, they wait on futures.
      arena_(static_cast<int>(size_), 0) {}

WorkerPool::~WorkerPool() { wait(); }

void WorkerPool::submit(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
    ++outstanding_;
  }
  tbb::task_handle task_object = group_.defer([this] {
    accept_handoff();
    run_next();
  });
  announce_handoff();
  arena_.enqueue(std::move(task_object));
}

void WorkerPool::run_next() {
  std::function<void()> task;
  {
    std::lock_guard lock(mutex_);
    task = std::move(queue_.front());
    queue_.pop_front();
  }
  task();
  task = nullptr;  // its captures die before wait() can return
  std::lock_guard lock(mutex_);
  if (--outstanding_ == 0) idle_.notify_all();
}

void WorkerPool::wait() {
  {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [this] { return outstanding_ == 0; });
  }
  // TBB's own task objects (which hold only `this`) are gone after this.
  // Debian's oneTBB 2021.8 has no task_arena::wait_for(task_group).
  arena_.execute([this] { group_.wait(); });
}

}  // namespace pssh::detail
