// A counting semaphore whose wait ends on a deadline or a stop, woken
// rather than polled: std::counting_semaphore's waits know no stop_token.
#pragma once

#include "base/clock.hpp"

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <stop_token>

namespace pssh::detail {

class Slots {
 public:
  explicit Slots(std::size_t count) : free_(count) {}
  Slots(const Slots&) = delete;
  Slots& operator=(const Slots&) = delete;

  /// Takes a slot; false if `deadline` passed or `stop` was requested first.
  bool acquire(Clock::time_point deadline, std::stop_token stop) {
    std::unique_lock lock(mutex_);
    if (!freed_.wait_until(lock, stop, deadline, [&] { return free_ > 0; })) return false;
    --free_;
    return true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    freed_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any freed_;
  std::size_t free_;
};

}  // namespace pssh::detail
