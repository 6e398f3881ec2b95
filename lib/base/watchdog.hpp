// The one thread that owns every deadline of a client: connect and session
// steps, command timeouts, cancellation grace periods.
#pragma once

#include "base/clock.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace pssh::detail {

class Watchdog {
 public:
  /// An armed deadline; destroying or disarming it guarantees its action has
  /// either run to completion already or never will.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)), id_(other.id_) {}
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { disarm(); }
    void disarm() noexcept;

   private:
    friend class Watchdog;
    Ticket(Watchdog* owner, std::uint64_t id) : owner_(owner), id_(id) {}
    Watchdog* owner_ = nullptr;
    std::uint64_t id_ = 0;
  };

  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Runs `action` on the watchdog thread at `deadline` unless disarmed first.
  /// Actions run outside the watchdog's lock: they may arm and disarm tickets
  /// (a stop that arms its cut-off), and must be short.
  [[nodiscard]] Ticket arm(Clock::time_point deadline, std::function<void()> action);

 private:
  std::uint64_t add(Clock::time_point deadline, std::function<void()> action);
  void disarm(std::uint64_t id) noexcept;
  void run();

  struct Entry {
    Clock::time_point deadline;
    std::function<void()> action;
  };
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable action_done_;
  std::uint64_t running_ = 0;  // the id whose action runs now, 0 if none
  std::map<std::uint64_t, Entry> entries_;
  std::multimap<Clock::time_point, std::uint64_t> by_deadline_;
  std::uint64_t next_id_ = 1;
  // When the thread wakes next by itself. A new deadline after it needs no
  // wake-up: the thread finds it then. Disarming never wakes the thread, so
  // a host that arms and disarms a step deadline many times a second costs
  // the thread one wake-up per timeout, not two per step.
  Clock::time_point sleeps_until_ = Clock::time_point::max();
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pssh::detail
