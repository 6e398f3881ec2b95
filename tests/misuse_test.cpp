// The stop model as callers misuse it: cancel(),
// close_channel() and timeouts against a real sshd, in every phase of a run,
// from several threads, from inside the caller's callbacks, and across runs.
// Deadlines are generous (a loaded 2-core machine) and scaled by slowdown;
// waits are for events, not sleeps (the random delays below only choose the
// moment of a cancel).
#include "common.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

double scaled(double seconds) { return seconds * slowdown; }

/// Every host either finished its command cleanly or reports Cancelled;
/// returns how many were cancelled, and fails on any other outcome.
int cancelled_or_done(const pssh::Output& output, const std::string& expected_line) {
  int cancelled = 0;
  for (const auto& h : output) {
    INFO(h.host() << ": " << error_message(h));
    CHECK(h.finished());
    if (h.exception()) {
      CHECK(host_error_is<pssh::Cancelled>(h));
      cancelled += host_error_is<pssh::Cancelled>(h);
    } else {
      CHECK(h.exit_code() == 0);
      CHECK(lines(h.stdout_lines()) == std::vector<std::string>{expected_line});
    }
  }
  return cancelled;
}

void all_clean(pssh::ParallelClient& client, const char* what) {
  auto output = client.run_command("echo clean", {.stop_on_errors = false});
  client.join(output);
  for (const auto& h : output) {
    INFO(what << ": " << h.host() << ": " << error_message(h));
    CHECK_FALSE(h.exception());
    CHECK(h.exit_code() == 0);
    CHECK(lines(h.stdout_lines()) == std::vector<std::string>{"clean"});
  }
}

/// Runs `command` (its last line "done") and cancel()s it after `delay`:
/// while run_command still hands out hosts (`during_start`, run_command on
/// another thread), or after it returned. Every host then ends soon, done
/// or Cancelled, and the next run on the client is clean.
void cancel_at(pssh::ParallelClient& client, const std::string& command, std::chrono::milliseconds delay,
               bool during_start, const char* what) {
  pssh::Output output;
  if (during_start) {
    std::thread runner([&] { output = client.run_command(command, {.stop_on_errors = false}); });
    std::this_thread::sleep_for(delay);
    client.cancel();
    runner.join();
  } else {
    output = client.run_command(command, {.stop_on_errors = false});
    std::this_thread::sleep_for(delay);
    client.cancel();
  }
  auto start = std::chrono::steady_clock::now();
  client.join(output);
  CHECK(seconds_since(start) < scaled(5));
  cancelled_or_done(output, "done");
  all_clean(client, what);
}

/// A second sshd as a bastion that accepts the suite's user key.
struct Bastion {
  Bastion() {
    rig::write_file(sshd.dir() / "authorized_keys",
                    rig::read_file(server().user_key().string() + ".pub"));
  }
  rig::Sshd sshd;
};

/// Counts the hosts that announced they are connecting.
void count_connecting(pssh::ClientOptions& options, std::atomic<int>& connecting) {
  options.on_event = [&connecting](const pssh::Event& e) {
    if (e.kind == pssh::Event::Kind::connecting) ++connecting, connecting.notify_all();
  };
}

/// Runs `true` on every host on another thread, cancel()s once all of them
/// are connecting, and checks each ended Cancelled, promptly.
void cancel_once_connecting(pssh::ParallelClient& client, std::atomic<int>& connecting) {
  const int hosts = static_cast<int>(client.hosts().size());
  pssh::Output output;
  std::thread runner([&] { output = client.run_command("true", {.stop_on_errors = false}); });
  while (connecting.load() < hosts) connecting.wait(connecting.load());
  auto start = std::chrono::steady_clock::now();
  client.cancel();
  runner.join();
  client.join(output);
  CHECK(seconds_since(start) < scaled(1.5));
  for (const auto& h : output) {
    INFO(h.host() << ": " << error_message(h));
    CHECK(host_error_is<pssh::Cancelled>(h));
  }
}

}  // namespace

TEST_SUITE("misuse") {
  TEST_CASE("more hosts than pool_size: cancel() at random moments ends each host done or Cancelled; the next run is clean") {
    auto options = server().options();
    options.pool_size = 3;
    pssh::ParallelClient client(rig::loopback_hosts(10), options);
    std::mt19937 random(20261207);
    within(240s, [&] {
      for (int round = 0; round < 8; ++round) {
        auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 900)(random));
        // Every other round the cancel races run_command itself (still handing out hosts).
        bool during_start = round % 2 == 0;
        cancel_at(client, "sleep 0.3; echo done", during_start ? delay / 4 : delay, during_start,
                  "after a cancel");
      }
    });
  }

  TEST_CASE("cancel() from four threads at once while run_command hands out hosts on another") {
    auto options = server().options();
    options.pool_size = 4;
    std::atomic<bool> begun{false};
    options.on_event = [&](const pssh::Event& e) {
      // The first event of a run (a kept connection sends no "connecting").
      if (e.kind == pssh::Event::Kind::connecting || e.kind == pssh::Event::Kind::started) {
        begun = true;
        begun.notify_all();
      }
    };
    pssh::ParallelClient client(rig::loopback_hosts(8), options);
    within(60s, [&] {
      for (int round = 0; round < 3; ++round) {
        begun = false;
        pssh::Output output;
        std::thread runner([&] { output = client.run_command("sleep 30", {.stop_on_errors = false}); });
        begun.wait(false);  // the run has taken its cancel token
        std::vector<std::thread> cancellers;
        std::atomic<int> ready{0};
        for (int i = 0; i < 4; ++i) {
          cancellers.emplace_back([&] {
            ++ready;
            while (ready.load() < 4) std::this_thread::yield();
            client.cancel();
          });
        }
        for (auto& t : cancellers) t.join();
        auto start = std::chrono::steady_clock::now();
        runner.join();
        client.join(output);
        CHECK(seconds_since(start) < scaled(5));
        for (const auto& h : output) {
          INFO(h.host() << ": " << error_message(h));
          CHECK(host_error_is<pssh::Cancelled>(h));
        }
        all_clean(client, "after concurrent cancels");
      }
    });
  }

  TEST_CASE("close_channel() on some hosts while the others run; reading after the close ends") {
    pssh::ParallelClient client(rig::loopback_hosts(6), server().options());
    within(60s, [&] {
      auto output = client.run_command("for i in $(seq 1 40); do echo $i; sleep 0.05; done");
      for (auto& h : output) REQUIRE(*h.stdout_lines().begin() == "1");
      for (std::size_t i = 0; i < output.size(); i += 2) output[i].close_channel();
      auto start = std::chrono::steady_clock::now();
      for (std::size_t i = 0; i < output.size(); i += 2) {
        auto rest = lines(output[i].stdout_lines());  // must end, not wait for 40
        CHECK(rest.size() < 39);
      }
      CHECK(seconds_since(start) < scaled(3));
      client.join(output);
      for (std::size_t i = 0; i < output.size(); ++i) {
        INFO(output[i].host() << ": " << error_message(output[i]));
        CHECK_FALSE(output[i].exception());
        if (i % 2 == 1) {
          CHECK(output[i].exit_code() == 0);
          CHECK(lines(output[i].stdout_lines()).size() == 39);
        }
      }
      all_clean(client, "after close_channel");
    });
  }

  TEST_CASE("a client destroyed mid-run: while connecting, in a command, in a transfer") {
    within(60s, [&] {
      SUBCASE("connecting (a transfer to a blackhole)") {
        rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
        rig::TempDir dir;
        rig::write_file(dir.path() / "f", "x");
        auto options = server().options();
        options.port = blackhole.port();
        auto client = std::make_unique<pssh::ParallelClient>(std::vector<std::string>(4, "127.0.0.1"), options);
        auto transfers = client->copy_file((dir.path() / "f").string(), "/tmp/never");
        REQUIRE(eventually([&] { return blackhole.accepted() >= 4; }));
        auto start = std::chrono::steady_clock::now();
        client.reset();  // cancels: no host may wait out its 60 s timeout
        CHECK(seconds_since(start) < scaled(3));
        for (const auto& t : transfers) {
          INFO(error_message(t.exception()));
          CHECK(t.finished());
          CHECK(error_is<pssh::Cancelled>(t.exception()));
        }
      }
      SUBCASE("in a running command") {
        auto client = std::make_unique<pssh::ParallelClient>(rig::loopback_hosts(3), server().options());
        auto output = client->run_command("echo up; sleep 100");
        for (auto& h : output) REQUIRE(*h.stdout_lines().begin() == "up");
        auto start = std::chrono::steady_clock::now();
        client.reset();
        CHECK(seconds_since(start) < scaled(3));
        for (const auto& h : output) {
          INFO(h.host() << ": " << error_message(h));
          CHECK(host_error_is<pssh::Cancelled>(h));
          CHECK(lines(h.stdout_lines()).empty());  // read past the end: no hang
        }
      }
      SUBCASE("in a transfer") {
        rig::TempDir dir;
        auto big = dir.path() / "big";
        rig::run({"truncate", "-s", "20G", big.string()});
        std::atomic<bool> moving{false};
        auto options = server().options();
        options.on_event = [&](const pssh::Event& e) {
          if (e.kind == pssh::Event::Kind::transfer && e.bytes_done > 0) {
            moving = true;
            moving.notify_all();
          }
        };
        auto client = std::make_unique<pssh::ParallelClient>(rig::loopback_hosts(2), options);
        auto transfers = client->copy_file(big.string(), "/dev/null");
        moving.wait(false);
        auto start = std::chrono::steady_clock::now();
        client.reset();
        CHECK(seconds_since(start) < scaled(3));
        for (const auto& t : transfers) {
          INFO(error_message(t.exception()));
          CHECK(t.finished());
          CHECK(error_is<pssh::Cancelled>(t.exception()));
        }
      }
    });
  }

  TEST_CASE("stdin never closed: join with a timeout, then cancel() or close_channel()") {
    pssh::ParallelClient client(rig::loopback_hosts(3), server().options());
    within(60s, [&] {
      bool cancel = false;
      SUBCASE("cancel") { cancel = true; }
      SUBCASE("close_channel") {}
      auto output = client.run_command("cat");
      output[0].stdin_writer().write("hello\n");
      CHECK(*output[0].stdout_lines().begin() == "hello");
      CHECK_THROWS_AS(client.join(output, {.join_timeout = 300ms}), pssh::JoinTimeout);
      auto start = std::chrono::steady_clock::now();
      if (cancel) client.cancel();
      else
        for (auto& h : output) h.close_channel();
      client.join(output);
      CHECK(seconds_since(start) < scaled(3));
      for (const auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        if (cancel) CHECK(host_error_is<pssh::Cancelled>(h));
        else CHECK_FALSE(h.exception());
      }
      all_clean(client, "after stdin left open");
    });
  }

  TEST_CASE("an on_event handler that calls cancel() (reentrant) or throws") {
    std::atomic<pssh::ParallelClient*> self{nullptr};
    auto options = server().options();
    options.pool_size = 2;
    pssh::Event::Kind trigger = pssh::Event::Kind::started;
    bool throws = false;
    SUBCASE("cancel() at connecting") { trigger = pssh::Event::Kind::connecting; }
    SUBCASE("cancel() at authenticated") { trigger = pssh::Event::Kind::authenticated; }
    SUBCASE("cancel() at started") { trigger = pssh::Event::Kind::started; }
    SUBCASE("cancel() at finished") { trigger = pssh::Event::Kind::finished; }
    SUBCASE("the handler throws at every event") { throws = true; }
    std::atomic<int> cancels{0};
    std::atomic<bool> armed{true};
    options.on_event = [&](const pssh::Event& e) {
      if (throws) throw std::runtime_error("handler threw");
      if (e.kind == trigger && armed.exchange(false)) {
        ++cancels;
        self.load()->cancel();
      }
    };
    pssh::ParallelClient client(rig::loopback_hosts(6), options);
    self = &client;
    within(60s, [&] {
      pssh::Output output;
      std::string command = trigger == pssh::Event::Kind::finished || throws
                                ? "echo done"
                                : "sleep 30; echo done";
      // run_command may itself be the thread the handler runs on? No: a
      // worker. It returns once every host started, failed or waits.
      std::thread runner([&] { output = client.run_command(command, {.stop_on_errors = false}); });
      runner.join();
      auto start = std::chrono::steady_clock::now();
      client.join(output);
      CHECK(seconds_since(start) < scaled(throws || trigger == pssh::Event::Kind::finished ? 10 : 5));
      if (throws) {
        for (const auto& h : output) CHECK_FALSE(h.exception());
      } else {
        CHECK(cancels == 1);
        int cancelled = cancelled_or_done(output, "done");
        if (trigger != pssh::Event::Kind::finished) CHECK(cancelled == 6);
      }
      armed = false;
      all_clean(client, "after the handler's cancel");
    });
  }

  TEST_CASE("an on_output sink that calls cancel(), close_channel() on its host, or throws") {
    auto options = server().options();
    pssh::ParallelClient client(rig::loopback_hosts(4), options);
    int mode = 0;
    SUBCASE("cancel()") { mode = 0; }
    SUBCASE("close_channel() of its own host") { mode = 1; }
    SUBCASE("throws") { mode = 2; }
    std::atomic<bool> once{true};
    pssh::OutputSink sink = [&](const pssh::HostOutput& h, pssh::Stream, std::string_view) {
      if (mode == 0 && once.exchange(false)) client.cancel();
      if (mode == 1 && h.index() % 2 == 0) h.close_channel();
      if (mode == 2 && h.index() == 0) throw std::runtime_error("sink threw");
    };
    within(60s, [&] {
      auto output = client.run_command(
          "echo a; sleep 30", {.stop_on_errors = false, .on_output = sink});
      auto start = std::chrono::steady_clock::now();
      if (mode != 0) {
        // The hosts the sink leaves alone: end them.
        for (auto& h : output)
          if ((mode == 1 && h.index() % 2 == 1) || (mode == 2 && h.index() != 0)) h.close_channel();
      }
      client.join(output);
      CHECK(seconds_since(start) < scaled(5));
      for (const auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        if (mode == 0) CHECK(host_error_is<pssh::Cancelled>(h));
        if (mode == 1) CHECK_FALSE(h.exception());
        if (mode == 2) CHECK(static_cast<bool>(h.exception()) == (h.index() == 0));
      }
      all_clean(client, "after the sink");
    });
  }

  TEST_CASE("a host that vanishes (Relay::freeze) while connecting, logging in or running: cancel(), close_channel(), timeout") {
    rig::Relay relay(server().port());
    auto options = server().options();
    options.port = relay.port();
    options.keepalive = 0s;  // only the stop may end the wait
    pssh::Event::Kind freeze_at = pssh::Event::Kind::connecting;
    int how = 0;  // 0 cancel, 1 close_channel, 2 command timeout
    SUBCASE("connecting, cancel") { freeze_at = pssh::Event::Kind::connecting; }
    SUBCASE("logging in, cancel") { freeze_at = pssh::Event::Kind::connected; }
    SUBCASE("running, cancel") { freeze_at = pssh::Event::Kind::started; }
    SUBCASE("running, close_channel") {
      freeze_at = pssh::Event::Kind::started;
      how = 1;
    }
    SUBCASE("running, command timeout") {
      freeze_at = pssh::Event::Kind::started;
      how = 2;
    }
    std::atomic<bool> frozen{false};
    options.on_event = [&](const pssh::Event& e) {
      if (e.kind == freeze_at) {
        relay.freeze();
        frozen = true;
        frozen.notify_all();
      }
    };
    pssh::ParallelClient client({"127.0.0.1"}, options);
    within(60s, [&] {
      pssh::Output output;
      std::optional<pssh::duration> timeout;
      if (how == 2) timeout = std::chrono::duration_cast<pssh::duration>(1s * slowdown);
      std::thread runner([&] {
        output = client.run_command("sleep 100", {.stop_on_errors = false, .command_timeout = timeout});
      });
      frozen.wait(false);
      if (freeze_at != pssh::Event::Kind::started) {
        auto start = std::chrono::steady_clock::now();
        client.cancel();
        runner.join();
        client.join(output);
        CHECK(seconds_since(start) < scaled(3));
      } else {
        runner.join();
        auto start = std::chrono::steady_clock::now();
        if (how == 0) client.cancel();
        if (how == 1) output[0].close_channel();
        client.join(output);
        CHECK(seconds_since(start) < scaled(how == 2 ? 5 : 3));
      }
      INFO(error_message(output[0]));
      if (how == 0) CHECK(host_error_is<pssh::Cancelled>(output[0]));
      if (how == 1) CHECK_FALSE(output[0].exception());
      if (how == 2) CHECK(host_error_is<pssh::Timeout>(output[0]));
    });
  }

  TEST_CASE("a proxy cancelled while it connects: every host behind it Cancelled, and the next run is not") {
    rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
    auto options = server().options();
    options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = blackhole.port()};
    options.connect_timeout = std::chrono::duration_cast<pssh::duration>(2s * slowdown);
    std::atomic<int> connecting{0};
    count_connecting(options, connecting);
    pssh::ParallelClient client(rig::loopback_hosts(4), options);
    within(60s, [&] {
      cancel_once_connecting(client, connecting);
      // The cancel was for that run only: the next one waits out the
      // proxy's connect_timeout and says so.
      auto again = client.run_command("true", {.stop_on_errors = false});
      client.join(again);
      for (const auto& h : again) {
        INFO(h.host() << ": " << error_message(h));
        CHECK_FALSE(host_error_is<pssh::Cancelled>(h));
        CHECK(h.exception());
      }
    });
  }

  TEST_CASE("a ProxyJump through the rig sshd, its bastion frozen while connecting: cancel() reaches every host") {
    Bastion bastion;
    rig::Relay relay(bastion.sshd.port());
    auto options = server().options();
    options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = relay.port()};
    relay.freeze();  // the bastion accepts, then says nothing
    std::atomic<int> connecting{0};
    count_connecting(options, connecting);
    pssh::ParallelClient client(rig::loopback_hosts(5), options);
    within(60s, [&] { cancel_once_connecting(client, connecting); });
  }

  TEST_CASE("a working proxy: cancel() at random moments, then a clean run through it") {
    Bastion bastion;
    auto options = server().options();
    options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = bastion.sshd.port()};
    options.pool_size = 3;
    pssh::ParallelClient client(rig::loopback_hosts(6), options);
    std::mt19937 random(7);
    within(180s, [&] {
      for (int round = 0; round < 5; ++round) {
        auto delay = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 600)(random));
        cancel_at(client, "sleep 0.2; echo done", delay, true, "through the proxy after a cancel");
      }
    });
  }

  TEST_CASE("no retry after a cancel: a host sleeping before its next attempt ends at once") {
    rig::FakeServer closer(rig::FakeServer::Behaviour::close_at_once);
    auto options = server().options();
    options.port = closer.port();
    options.num_retries = 5;
    options.retry_delay = 30s;
    pssh::ParallelClient client(std::vector<std::string>(2, "127.0.0.1"), options);
    within(60s, [&] {
      pssh::Output output;
      std::thread runner([&] { output = client.run_command("true", {.stop_on_errors = false}); });
      REQUIRE(eventually([&] { return closer.accepted() >= 2; }));
      auto start = std::chrono::steady_clock::now();
      client.cancel();
      runner.join();
      client.join(output);
      CHECK(seconds_since(start) < scaled(1.5));
      int accepted = closer.accepted();
      for (const auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        CHECK(host_error_is<pssh::Cancelled>(h));
      }
      CHECK(closer.accepted() == accepted);
      CHECK(accepted == 2);
    });
  }

  TEST_CASE("hosts stuck in a silent agent and hosts waiting for an agent slot: cancel() ends them all, and frees the slots") {
    rig::SilentAgent silent;
    auto options = server().options();
    options.pkey.reset();
    options.allow_agent = true;
    options.identity_agent = silent.path();
    options.pool_size = 12;
    pssh::ParallelClient client(rig::loopback_hosts(12), options);
    within(120s, [&] {
      pssh::Output output;
      std::thread runner([&] { output = client.run_command("true", {.stop_on_errors = false}); });
      REQUIRE(silent.wait_for(8, std::chrono::duration_cast<std::chrono::milliseconds>(30s * slowdown)));
      auto start = std::chrono::steady_clock::now();
      client.cancel();
      runner.join();
      client.join(output);
      CHECK(seconds_since(start) < scaled(2));
      for (const auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        CHECK(host_error_is<pssh::Cancelled>(h));
      }
      // How many reached the agent is not checked: cancel() reaches the
      // hosts one after another, and a host a moment from its own stop may
      // still take a slot one already stopped gave back (under ASan: 9).

      // The slots came back: twelve logins through a real agent.
      rig::Agent agent;
      agent.add(server().user_key());
      auto real = server().options();
      real.pkey.reset();
      real.allow_agent = true;
      real.identity_agent = agent.socket();
      real.timeout = std::chrono::duration_cast<pssh::duration>(10s * slowdown);
      pssh::ParallelClient again(rig::loopback_hosts(12), real);
      all_clean(again, "agent after a cancel");
    });
  }

  TEST_CASE("connect_auth() and disconnect() from another thread while hosts connect") {
    rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
    auto options = server().options();
    options.port = blackhole.port();
    pssh::ParallelClient client(std::vector<std::string>(4, "127.0.0.1"), options);
    within(60s, [&] {
      bool disconnect = false;
      SUBCASE("cancel") {}
      SUBCASE("disconnect") { disconnect = true; }
      std::atomic<bool> threw_cancelled{false};
      std::thread runner([&] {
        try {
          client.connect_auth();
        } catch (const pssh::Cancelled&) {
          threw_cancelled = true;
        } catch (...) {
        }
      });
      REQUIRE(eventually([&] { return blackhole.accepted() >= 4; }));
      auto start = std::chrono::steady_clock::now();
      if (disconnect) client.disconnect();
      else client.cancel();
      runner.join();
      CHECK(seconds_since(start) < scaled(1.5));
      CHECK(threw_cancelled);
    });
  }
}
