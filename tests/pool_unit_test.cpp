// The worker pool alone (no sshd): how many tasks run at once and in what
// order, what submit() reports, and that wait() and the destructor outlast
// every task and its captures. A task must not throw (documented on
// submit()): not tested.
#include "common.hpp"

#include "engine/pool.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

/// What tasks and the test tell each other: counters under one mutex, and a
/// wait for a condition on them with a deadline (longer in sanitizer builds).
class Board {
 public:
  template <class Change>
  void change(Change&& how) {
    {
      std::lock_guard lock(mutex_);
      how();
    }
    changed_.notify_all();
  }

  template <class Condition>
  bool wait_until(Condition&& condition, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit * static_cast<int>(slowdown), condition);
  }

  // Guarded by the mutex: touched only in change() and wait_until().
  int running = 0, most_running = 0, ran = 0, tickets = 0;
  bool open = false;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
};

/// A task that counts itself running, then holds its worker until the test
/// gives it a ticket (or opens the board). The ticket is taken in the wait
/// itself, under the board's lock: two tasks woken by one ticket must not
/// both leave with it.
std::function<void()> held_task(Board& board) {
  return [&board] {
    board.change([&] {
      ++board.running;
      board.most_running = std::max(board.most_running, board.running);
    });
    board.wait_until([&] {
      if (board.open) return true;
      if (board.tickets == 0) return false;
      --board.tickets;
      return true;
    }, 60s);
    board.change([&] {
      --board.running;
      ++board.ran;
    });
  };
}

/// A capture whose destructor says when it starts, then holds the worker
/// until the test opens the board, then says it finished. Only the object the
/// task was made with counts: a copy is inert.
struct SlowCapture {
  Board* board;
  bool* entered;
  bool* finished;
  bool armed = true;

  SlowCapture(Board& b, bool& e, bool& f) : board(&b), entered(&e), finished(&f) {}
  SlowCapture(const SlowCapture& other)
      : board(other.board), entered(other.entered), finished(other.finished), armed(false) {}
  SlowCapture(SlowCapture&& other) noexcept
      : board(other.board), entered(other.entered), finished(other.finished), armed(other.armed) {
    other.armed = false;
  }
  SlowCapture& operator=(const SlowCapture&) = delete;
  ~SlowCapture() {
    if (!armed) return;
    board->change([&] { *entered = true; });
    board->wait_until([&] { return board->open; }, 60s);
    board->change([&] { *finished = true; });
  }
};

}  // namespace

TEST_SUITE("pool_unit") {
  TEST_CASE("more tasks than workers all run, never more than the pool's size at once") {
    within(60s, [] {
      const std::size_t size = 3, tasks = 10;
      Board board;
      pssh::detail::WorkerPool pool(size);
      for (std::size_t i = 0; i < tasks; ++i) pool.submit(held_task(board));
      // One ticket at a time: each lets one task end, and the next may start.
      for (std::size_t left = tasks; left > 0; --left) {
        int busy = static_cast<int>(std::min(size, left));
        REQUIRE(board.wait_until([&] { return board.running == busy && board.tickets == 0; }));
        board.change([&] { ++board.tickets; });
      }
      pool.wait();
      board.change([] {});
      CHECK(board.ran == static_cast<int>(tasks));
      CHECK(board.most_running == static_cast<int>(size));
    });
  }

  TEST_CASE("tasks start in the order they were submitted") {
    // The engine relies on it: a host told it does not wait must not be
    // overtaken by hosts submitted after it (which may wait on its
    // connection), and waiting hosts go in turn.
    within(60s, [] {
      Board board;
      std::vector<int> order;
      pssh::detail::WorkerPool pool(1);
      pool.submit(held_task(board));
      REQUIRE(board.wait_until([&] { return board.running == 1; }));
      for (int i = 0; i < 50; ++i) pool.submit([&, i] { board.change([&] { order.push_back(i); }); });
      board.change([&] { board.open = true; });
      pool.wait();
      board.change([] {});
      std::vector<int> expected(50);
      for (int i = 0; i < 50; ++i) expected[i] = i;
      CHECK(order == expected);
    });
  }

  TEST_CASE("submit() says a task waits exactly when every worker is busy") {
    within(60s, [] {
      Board board;
      pssh::detail::WorkerPool pool(2);
      CHECK_FALSE(pool.submit(held_task(board)));
      CHECK_FALSE(pool.submit(held_task(board)));
      CHECK(pool.submit(held_task(board)));
      CHECK(pool.submit(held_task(board)));
      REQUIRE(board.wait_until([&] { return board.running == 2; }));
      board.change([&] { board.open = true; });
      pool.wait();
      CHECK_FALSE(pool.submit([] {}));  // every worker is free again
      pool.wait();
    });
  }

  TEST_CASE("wait() returns after every task ran and its captures were destroyed") {
    within(60s, [] {
      pssh::detail::WorkerPool pool(4);
      auto token = std::make_shared<int>(0);
      std::atomic<int> ran{0};
      for (int i = 0; i < 50; ++i) pool.submit([token, &ran] { ++ran; });
      pool.wait();
      CHECK(ran == 50);
      CHECK(token.use_count() == 1);
    });
  }

  TEST_CASE("wait() outlasts a capture's destructor that is still running") {
    within(60s, [] {
      Board board;
      bool entered = false, finished = false;
      pssh::detail::WorkerPool pool(2);
      pool.submit([capture = SlowCapture(board, entered, finished)] {});
      auto waiting = std::async(std::launch::async, [&] {
        pool.wait();
        bool done = false;
        board.change([&] { done = finished; });
        return done;
      });
      REQUIRE(board.wait_until([&] { return entered; }));
      // The destructor is held: wait() must still be waiting.
      CHECK(waiting.wait_for(200ms * static_cast<int>(slowdown)) == std::future_status::timeout);
      board.change([&] { board.open = true; });
      CHECK(waiting.get());
    });
  }

  TEST_CASE("tasks run on the pool's workers, never on the thread that waits, with SIGPIPE blocked") {
    within(60s, [] {
      Board board;
      std::set<std::thread::id> threads;
      bool sigpipe_blocked = true;
      pssh::detail::WorkerPool pool(4);
      for (int i = 0; i < 20; ++i) {
        pool.submit([&] {
          sigset_t mask;
          pthread_sigmask(SIG_SETMASK, nullptr, &mask);
          board.change([&] {
            threads.insert(std::this_thread::get_id());
            sigpipe_blocked = sigpipe_blocked && sigismember(&mask, SIGPIPE) == 1;
          });
          held_task(board)();
        });
      }
      std::thread opener([&] {
        board.wait_until([&] { return board.running == 4; });
        board.change([&] { board.open = true; });
      });
      pool.wait();
      opener.join();
      board.change([] {});
      CHECK(board.ran == 20);
      CHECK(threads.count(std::this_thread::get_id()) == 0);
      CHECK(sigpipe_blocked);
    });
  }

  TEST_CASE("two pools at once: one's busy workers do not hold up the other's tasks") {
    within(60s, [] {
      Board board;
      pssh::detail::WorkerPool first(1), second(1);
      first.submit(held_task(board));
      REQUIRE(board.wait_until([&] { return board.running == 1; }));
      bool other_ran = false;
      second.submit([&] { board.change([&] { other_ran = true; }); });
      CHECK(board.wait_until([&] { return other_ran; }));
      board.change([&] { board.open = true; });
      first.wait();
      second.wait();
    });
  }

  TEST_CASE("the destructor waits for every task and its captures") {
    within(60s, [] {
      Board board;
      auto token = std::make_shared<int>(0);
      std::optional<pssh::detail::WorkerPool> pool(std::in_place, 2);
      for (int i = 0; i < 5; ++i) {
        pool->submit([token, task = held_task(board)] { task(); });
      }
      REQUIRE(board.wait_until([&] { return board.running == 2; }));
      auto ending = std::async(std::launch::async, [&] { pool.reset(); });
      CHECK(ending.wait_for(200ms * static_cast<int>(slowdown)) == std::future_status::timeout);
      board.change([&] { board.open = true; });
      ending.get();
      board.change([] {});
      CHECK(board.ran == 5);
      CHECK(token.use_count() == 1);
    });
  }
}
