// The watchdog thread: sleeps until the earliest deadline, runs its action.
#include "base/watchdog.hpp"

namespace pssh::detail {

Watchdog::Ticket& Watchdog::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    disarm();
    owner_ = std::exchange(other.owner_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

void Watchdog::Ticket::disarm() noexcept {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->disarm(id_);
}

Watchdog::Watchdog() : thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

Watchdog::Ticket Watchdog::arm(Clock::time_point deadline, std::function<void()> action) {
  return Ticket(this, add(deadline, std::move(action)));
}

std::uint64_t Watchdog::add(Clock::time_point deadline, std::function<void()> action) {
  std::uint64_t id;
  bool earliest;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    entries_.emplace(id, Entry{deadline, std::move(action)});
    earliest = deadline < sleeps_until_;
    if (earliest) sleeps_until_ = deadline;  // one wake-up for several new deadlines
    by_deadline_.emplace(deadline, id);
  }
  if (earliest) wake_.notify_all();
  return id;
}

void Watchdog::disarm(std::uint64_t id) noexcept {
  std::unique_lock lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    // Running now: wait for it to end, unless it is disarming itself.
    if (std::this_thread::get_id() != thread_.get_id())
      action_done_.wait(lock, [&] { return running_ != id; });
    return;
  }
  auto [first, last] = by_deadline_.equal_range(it->second.deadline);
  for (; first != last; ++first) {
    if (first->second == id) {
      by_deadline_.erase(first);
      break;
    }
  }
  entries_.erase(it);
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (by_deadline_.empty()) {
      sleeps_until_ = Clock::time_point::max();
      wake_.wait(lock);
      continue;
    }
    auto next = by_deadline_.begin();
    // A copy: wait_until unlocks, and a disarm() may free the node meanwhile.
    const Clock::time_point deadline = next->first;
    if (Clock::now() < deadline) {
      sleeps_until_ = deadline;
      wake_.wait_until(lock, deadline);
      continue;
    }
    auto entry = entries_.find(next->second);
    running_ = entry->first;
    by_deadline_.erase(next);
    std::function<void()> action = std::move(entry->second.action);
    entries_.erase(entry);
    // Outside the lock, so that the action may arm tickets; disarm() of this
    // ticket waits on `running_` until it is done.
    lock.unlock();
    action();
    action = nullptr;
    lock.lock();
    running_ = 0;
    action_done_.notify_all();
  }
}

}  // namespace pssh::detail
