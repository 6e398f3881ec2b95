// Ctrl-C for the commands: a thread of its own takes the signals and
// cancels the running client, so that every host reports how it ended.
#pragma once

#include <pssh/client.hpp>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace cli {

/// A file descriptor, closed with its owner.
class Descriptor {
 public:
  explicit Descriptor(int fd = -1) : fd_(fd) {}
  ~Descriptor() { reset(); }
  Descriptor(Descriptor&& other) noexcept : fd_(other.release()) {}
  Descriptor& operator=(Descriptor&& other) noexcept {
    reset(other.release());
    return *this;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() { return std::exchange(fd_, -1); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

/// Ctrl-C, TERM and HUP, taken by a thread of their own through a
/// signalfd (blocked in every other thread: made before the client's). While
/// a client works, the first one cancels it, as pssh 2.3 kills its ssh
/// processes: each unfinished host reports "Interrupted" (status 3), and the
/// report, -o files and --failed are still written. Otherwise, or the
/// second time, the signal does what it would have done. A signal the
/// caller ignores (nohup, trap '' INT) stays ignored.
class Interrupts {
 public:
  Interrupts();
  ~Interrupts();
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  /// The client an interrupt cancels from now on, and what it does then
  /// too (on the interrupt's thread); nullptr: none.
  void route_to(pssh::ParallelClient* client, std::function<void()> also = {});
  /// An interrupt cancelled the run: start no more work.
  bool interrupted() const { return interrupted_.load(); }
  /// The signal mask the program had before: for the programs it starts,
  /// which must take Ctrl-C as they would have.
  const sigset_t& mask_before() const { return before_; }

 private:
  void wait();

  sigset_t signals_{}, before_{};
  Descriptor signal_fd_, stop_;
  std::mutex mutex_;
  pssh::ParallelClient* client_ = nullptr;
  std::function<void()> also_;
  std::atomic<bool> interrupted_{false};
  std::thread waiter_;
};

/// route_to(client, also) for as long as it lives.
struct Routed {
  Routed(Interrupts& interrupts, pssh::ParallelClient& client, std::function<void()> also = {})
      : interrupts(interrupts) {
    interrupts.route_to(&client, std::move(also));
  }
  ~Routed() { interrupts.route_to(nullptr); }
  Interrupts& interrupts;
};

}  // namespace cli
