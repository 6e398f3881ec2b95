// The watchdog: actions run at their deadlines, in deadline order, on one
// thread; disarming (or dropping) a ticket means its action has finished or
// will never run. What must not happen is shown by what happens after it: a
// later deadline's action, or the other thread seen asleep in the wait.
#include "common.hpp"

#include "base/watchdog.hpp"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

using namespace std::chrono_literals;
using pssh::detail::Clock;
using pssh::detail::Watchdog;

namespace {

/// What the actions of a test did, in the order they did it.
class Record {
 public:
  void add(int step) {
    std::lock_guard lock(mutex_);
    steps_.push_back(step);
  }
  std::vector<int> steps() {
    std::lock_guard lock(mutex_);
    return steps_;
  }
  /// Waits until `count` steps are recorded.
  bool reaches(std::size_t count) {
    return eventually([&] { return steps().size() >= count; });
  }

 private:
  std::mutex mutex_;
  std::vector<int> steps_;
};

/// Whether thread `tid` of this process is asleep (blocked in the kernel).
bool asleep(pid_t tid) {
  std::ifstream stat("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto name_end = text.rfind(')');  // the thread's name may hold spaces and ')'
  return name_end != std::string::npos && text.compare(name_end, 3, ") S") == 0;
}

/// Waits until thread `tid`, once it said it `entered` a call that may block,
/// sleeps in it: only the call's own wait puts it to sleep there.
bool blocked_in_call(const std::atomic<pid_t>& tid, const std::atomic<bool>& entered) {
  return eventually([&] { return entered && asleep(tid); });
}

}  // namespace

TEST_SUITE("watchdog") {
  TEST_CASE("an action runs at its deadline, not before") {
    Watchdog watchdog;
    std::atomic<bool> ran{false};
    Clock::time_point ran_at;
    auto deadline = Clock::now() + 200ms;
    auto ticket = watchdog.arm(deadline, [&] {
      ran_at = Clock::now();
      ran = true;
    });
    REQUIRE(eventually([&] { return ran.load(); }));
    CHECK(ran_at >= deadline);
  }

  TEST_CASE("actions run in the order of their deadlines, not of arming; a past deadline at once") {
    Watchdog watchdog;
    Record record;
    auto now = Clock::now();
    auto third = watchdog.arm(now + 300ms, [&] { record.add(3); });
    auto first = watchdog.arm(now - 1s, [&] { record.add(1); });
    auto second = watchdog.arm(now + 150ms, [&] { record.add(2); });
    REQUIRE(record.reaches(3));
    CHECK(record.steps() == std::vector<int>{1, 2, 3});
  }

  TEST_CASE("a ticket disarmed or dropped before its deadline never runs its action") {
    Watchdog watchdog;
    Record record;
    auto now = Clock::now();
    auto disarmed = watchdog.arm(now + 100ms, [&] { record.add(1); });
    std::optional<Watchdog::Ticket> dropped = watchdog.arm(now + 100ms, [&] { record.add(2); });
    // Runs after both deadlines: by then, an action not disarmed would have run.
    auto later = watchdog.arm(now + 300ms, [&] { record.add(3); });
    disarmed.disarm();
    disarmed.disarm();  // twice is harmless
    dropped.reset();
    REQUIRE(record.reaches(1));
    CHECK(record.steps() == std::vector<int>{3});
  }

  TEST_CASE("disarming a ticket whose action runs waits until the action has finished") {
    Watchdog watchdog;
    std::atomic<bool> started{false}, disarming{false}, finished{false}, finished_when_disarmed{false};
    std::atomic<pid_t> disarmer{0};
    auto ticket = watchdog.arm(Clock::now(), [&] {
      started = true;
      // Holds the action until the other thread is asleep in disarm().
      CHECK(blocked_in_call(disarmer, disarming));
      finished = true;
    });
    REQUIRE(eventually([&] { return started.load(); }));
    std::thread other([&] {
      disarmer = ::gettid();
      disarming = true;
      ticket.disarm();
      finished_when_disarmed = finished.load();
    });
    other.join();
    CHECK(finished_when_disarmed);
  }

  TEST_CASE("a moved ticket keeps its arming; assigning over a ticket disarms the one it held") {
    Watchdog watchdog;
    Record record;
    auto now = Clock::now();
    Watchdog::Ticket moved_from = watchdog.arm(now + 100ms, [&] { record.add(1); });
    Watchdog::Ticket moved_to = std::move(moved_from);
    moved_from.disarm();  // it holds nothing now
    Watchdog::Ticket assigned = watchdog.arm(now + 150ms, [&] { record.add(2); });
    assigned = watchdog.arm(now + 200ms, [&] { record.add(3); });
    REQUIRE(record.reaches(2));
    CHECK(record.steps() == std::vector<int>{1, 3});
  }

  TEST_CASE("an action may arm and disarm other tickets") {
    Watchdog watchdog;
    Record record;
    auto now = Clock::now();
    std::optional<Watchdog::Ticket> armed_by_action;
    Watchdog::Ticket disarmed_by_action = watchdog.arm(now + 200ms, [&] { record.add(2); });
    Watchdog::Ticket arming = watchdog.arm(now, [&] {
      record.add(1);
      disarmed_by_action.disarm();
      // Due after the disarmed deadline: the order shows that one never ran.
      armed_by_action.emplace(watchdog.arm(now + 400ms, [&] { record.add(3); }));
    });
    REQUIRE(record.reaches(2));
    CHECK(record.steps() == std::vector<int>{1, 3});
  }

  TEST_CASE("an action may disarm its own ticket; destroying the watchdog waits for it to finish") {
    auto watchdog = std::make_unique<Watchdog>();
    std::atomic<bool> armed{false}, started{false}, destroying{false}, finished{false};
    const std::atomic<pid_t> destroyer = ::gettid();
    Watchdog::Ticket ticket;
    ticket = watchdog->arm(Clock::now(), [&] {
      CHECK(eventually([&] { return armed.load(); }));  // `ticket` is assigned
      ticket.disarm();  // returns at once on the watchdog's own thread
      started = true;
      CHECK(blocked_in_call(destroyer, destroying));
      finished = true;
    });
    armed = true;
    REQUIRE(eventually([&] { return started.load(); }));
    destroying = true;
    watchdog.reset();
    CHECK(finished);
  }

  TEST_CASE("destroying a watchdog does not wait for the deadline it sleeps towards") {
    within(10s, [&] {
      auto start = Clock::now();
      {
        Watchdog watchdog;
        auto ticket = watchdog.arm(start + 1h, [] {});
        // The thread sleeps towards that hour: dropping the ticket does not wake it.
      }
      CHECK(seconds_since(start) < 1.0 * slowdown);
    });
  }
}
