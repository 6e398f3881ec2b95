// How long a stop takes to end a host's work, phase by phase: each case
// holds several hosts inside one phase (a server that never answers, a
// relay frozen as the phase begins, a command that runs, a transfer),
// stops them, and takes each host's time from the stop to its end. The
// worst of every phase must stay under a second; the table is printed.
#include "common.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sched.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Stops per phase: rounds x hosts. Fewer under sanitizers, which only slow.
constexpr int rounds = slowdown > 1 ? 2 : 10;
constexpr std::size_t hosts_per_round = slowdown > 1 ? 5 : 10;
// Stops at random moments land more rarely on a given libssh call: more rounds.
constexpr int random_rounds = slowdown > 1 ? 10 : 30;
// A stop must not wait for a step's own limit: this one is far above the bound.
constexpr auto step_timeout = 10s;
constexpr double bound_seconds = 1.0;

/// Each host's end (its failed or finished event), and the moments a test
/// waits for, counted under one lock.
class Ends {
 public:
  void on_event(const pssh::Event& e) {
    std::lock_guard lock(mutex_);
    if (e.kind == pssh::Event::Kind::failed || e.kind == pssh::Event::Kind::finished)
      ended_[e.index] = Clock::now();
    ++seen_[e.kind];
    changed_.notify_all();
  }
  /// Waits until `count` events of `kind` came (a stuck phase fails the test).
  bool wait_for(pssh::Event::Kind kind, std::size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 30s * slowdown, [&] { return seen_[kind] >= count; });
  }
  /// Seconds from `stop` to each host's end; REQUIREs every host ended.
  std::vector<double> since(Clock::time_point stop, std::size_t hosts) {
    std::lock_guard lock(mutex_);
    std::vector<double> out;
    for (std::size_t i = 0; i < hosts; ++i) {
      REQUIRE(ended_.count(i) == 1);
      out.push_back(std::chrono::duration<double>(ended_.at(i) - stop).count());
    }
    return out;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::size_t, Clock::time_point> ended_;
  std::map<pssh::Event::Kind, std::size_t> seen_;
};

/// The phases' results, printed as one table at the end of the suite.
struct Table {
  std::map<std::string, std::vector<double>> latencies;
  ~Table() {
    if (latencies.empty()) return;
    std::printf("\nstop latency, seconds from the stop to the host's end (%d rounds x %zu hosts)\n",
                rounds, hosts_per_round);
    std::printf("%-40s %6s %8s %8s %8s\n", "phase", "stops", "median", "worst", "over 1 s");
    for (auto& [phase, values] : latencies) {
      std::sort(values.begin(), values.end());
      auto late = std::count_if(values.begin(), values.end(), [](double v) { return v >= bound_seconds * slowdown; });
      std::printf("%-40s %6zu %8.3f %8.3f %8td\n", phase.c_str(), values.size(),
                  values[values.size() / 2], values.back(), late);
    }
  }
};
Table table;

void record(const std::string& phase, const std::vector<double>& values) {
  auto& all = table.latencies[phase];
  all.insert(all.end(), values.begin(), values.end());
}

/// Every stop of the phase ended its host within the bound. (Before the
/// cut shut only the reading side, 1 stop in 100 at random moments sat out
/// libssh 0.10's own timeout: see Session::shut_down_locked.)
void check_phase(const std::string& phase) {
  std::vector<double> values = table.latencies.at(phase);
  REQUIRE(!values.empty());
  std::sort(values.begin(), values.end());
  double limit = bound_seconds * slowdown;
  auto late = std::count_if(values.begin(), values.end(), [&](double v) { return v >= limit; });
  INFO(phase << ": median " << values[values.size() / 2] << " s, worst " << values.back() << " s, "
             << late << " of " << values.size() << " over " << limit << " s");
  CHECK(late == 0);
}

/// The suite's sshd options with the long step timeout and the events.
pssh::ClientOptions options_with(Ends& ends) {
  auto options = server().options();
  options.timeout = step_timeout;
  options.connect_timeout = step_timeout;
  options.on_event = [&ends](const pssh::Event& e) { ends.on_event(e); };
  return options;
}

/// `hosts_per_round` names of 127.0.0.1, each reached on its own port.
std::vector<std::string> local_hosts() { return std::vector<std::string>(hosts_per_round, "127.0.0.1"); }

std::vector<pssh::HostConfig> on_ports(const std::vector<int>& ports) {
  std::vector<pssh::HostConfig> config;
  for (int port : ports) config.push_back({.port = port});
  return config;
}

/// One relay to the suite's sshd per host, each frozen (the host vanishes)
/// when its host's event `at` comes: the host is then inside the next phase.
struct FrozenAt {
  FrozenAt(pssh::Event::Kind at, Ends& ends) : at_(at), ends_(ends) {
    for (std::size_t i = 0; i < hosts_per_round; ++i)
      relays.push_back(std::make_unique<rig::Relay>(server().port()));
  }
  pssh::ClientOptions options() {
    auto options = options_with(ends_);
    options.on_event = [this](const pssh::Event& e) {
      if (e.kind == at_) relays.at(e.index)->freeze();  // on the worker, before the next step
      ends_.on_event(e);
    };
    return options;
  }
  std::vector<pssh::HostConfig> config() const {
    std::vector<int> ports;
    for (const auto& relay : relays) ports.push_back(relay->port());
    return on_ports(ports);
  }
  std::vector<std::unique_ptr<rig::Relay>> relays;

 private:
  pssh::Event::Kind at_;
  Ends& ends_;
};

/// A non-blocking connect to `port` on 127.0.0.1, started.
int start_connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  return fd;
}

/// A listening port whose accept queue is full: a connect to it waits for
/// an answer to its SYN that never comes.
class FullBacklog {
 public:
  FullBacklog() {
    listen_fd_ = rig::listen_tcp(INADDR_LOOPBACK, port_);
    ::listen(listen_fd_, 0);
    // Fill the queue; the kernel then drops further SYNs.
    for (int i = 0; i < 4; ++i) fillers_.push_back(start_connect(port_));
  }
  ~FullBacklog() {
    for (int fd : fillers_) ::close(fd);
    ::close(listen_fd_);
  }
  int port() const { return port_; }
  /// A connect started now is still waiting after 200 ms.
  bool connect_stalls() const {
    int fd = start_connect(port_);
    pollfd writable{fd, POLLOUT, 0};
    bool stalled = ::poll(&writable, 1, 200) == 0;
    ::close(fd);
    return stalled;
  }

 private:
  int listen_fd_ = -1, port_ = 0;
  std::vector<int> fillers_;
};

/// Runs `true` on every host on another thread (run_command returns only
/// once the hosts have started or failed), cancel()s the client once
/// `ready` says the hosts are inside the phase, and takes each host's time.
template <class Ready>
std::vector<double> cancel_when(pssh::ParallelClient& client, Ends& ends, Ready ready) {
  std::thread starter([&] { client.run_command("true", {.stop_on_errors = false}); });
  bool in_phase = ready();
  auto stop = Clock::now();
  client.cancel();
  starter.join();
  client.join();
  REQUIRE(in_phase);
  return ends.since(stop, client.hosts().size());
}

void check_all_cancelled(const pssh::Output& output) {
  for (const auto& h : output) {
    INFO(h.host() << ": " << error_message(h));
    CHECK(host_error_is<pssh::Cancelled>(h));
  }
}

/// A file of `size` bytes for the transfer phases, made once.
const std::string& big_file() {
  static rig::TempDir dir;
  static const std::string path = [] {
    std::string file = (dir.path() / "big").string();
    std::ofstream out(file, std::ios::binary);
    std::string block(1 << 20, 'x');
    for (int i = 0; i < 64; ++i) out << block;
    return file;
  }();
  return path;
}

/// Each host connects to a fake server that behaves as `behaviour` says
/// and is stopped once the server took every connection.
void stop_at_fake_server(rig::FakeServer::Behaviour behaviour, const std::string& phase) {
  for (int round = 0; round < rounds; ++round) {
    rig::FakeServer fake(behaviour);
    Ends ends;
    auto options = options_with(ends);
    options.port = fake.port();
    pssh::ParallelClient client(local_hosts(), options);
    record(phase, cancel_when(client, ends, [&] {
             return eventually([&] { return fake.accepted() >= static_cast<int>(hosts_per_round); });
           }));
    check_all_cancelled(client.get_last_output());
  }
  check_phase(phase);
}

/// Each host vanishes (its relay frozen) at its event `at`, and is stopped
/// once every host is past it: inside the step after `at`.
void stop_after_vanishing_at(pssh::Event::Kind at, const std::string& phase) {
  for (int round = 0; round < rounds; ++round) {
    Ends ends;
    FrozenAt frozen(at, ends);
    pssh::ParallelClient client(local_hosts(), frozen.options(), frozen.config());
    record(phase, cancel_when(client, ends, [&] { return ends.wait_for(at, hosts_per_round); }));
    check_all_cancelled(client.get_last_output());
  }
  check_phase(phase);
}

/// Each host runs a long `command`; once all started, `stop` stops them and
/// each ends Cancelled, or (close_channel()) without an error.
void stop_running_command(const std::string& phase, bool cancelled,
                          const std::function<void(pssh::ParallelClient&, const pssh::Output&)>& stop,
                          const std::string& command = "sleep 100", pssh::RunOptions run = {}) {
  run.stop_on_errors = false;
  for (int round = 0; round < rounds; ++round) {
    Ends ends;
    pssh::ParallelClient client(local_hosts(), options_with(ends));
    auto output = client.run_command(command, run);
    REQUIRE(ends.wait_for(pssh::Event::Kind::started, hosts_per_round));
    auto stopped = Clock::now();
    stop(client, output);
    client.join(output);
    record(phase, ends.since(stopped, hosts_per_round));
    for (const auto& h : output) {
      INFO(h.host() << ": " << error_message(h));
      CHECK((cancelled ? host_error_is<pssh::Cancelled>(h) : !h.exception()));
    }
  }
}

}  // namespace

/// A DNS server that reads every query and never answers, on 127.0.53.53
/// port 53 (root only). Counts the distinct names asked for.
class SilentDns {
 public:
  static constexpr const char* address = "127.0.53.53";

  SilentDns() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(53);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~SilentDns() { ::close(fd_); }
  SilentDns(const SilentDns&) = delete;
  SilentDns& operator=(const SilentDns&) = delete;

  /// Distinct first labels of the names queried so far ("r2-3" of
  /// "r2-3.pssh-test"); reads what waits on the socket.
  std::size_t names_asked() {
    char packet[512];
    for (ssize_t n; (n = ::recv(fd_, packet, sizeof packet, 0)) > 12;) {
      auto length = static_cast<unsigned char>(packet[12]);  // the question's first label
      if (13 + length <= n) names_.emplace(packet + 13, length);
    }
    return names_.size();
  }

 private:
  int fd_;
  std::set<std::string> names_;
};

/// Runs `body` on a thread of its own whose mount namespace has its own
/// /etc/resolv.conf (a bind mount of `resolv_conf`): glibc's resolver on
/// that thread, and on the threads it starts (TBB's workers, their lookup
/// threads), asks only what this file names. The machine's file is never
/// touched. False if the kernel refuses (no CAP_SYS_ADMIN).
bool with_resolv_conf(const std::string& resolv_conf, const std::function<void()>& body) {
  bool entered = false;
  std::exception_ptr error;
  std::thread([&] {
    entered = ::unshare(CLONE_NEWNS) == 0 &&
              ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
              ::mount(resolv_conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr) == 0;
    if (!entered) return;
    try {
      body();
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
  return entered;
}

/// Whether this process may have a mount namespace of its own: tried once,
/// in a child, before any case runs (a skip is decided when cases register).
bool own_resolv_conf_possible() {
  static const bool possible = [] {
    if (::geteuid() != 0) return false;
    pid_t child = ::fork();
    if (child == 0) _exit(::unshare(CLONE_NEWNS) == 0 ? 0 : 1);
    int status = 0;
    return child > 0 && ::waitpid(child, &status, 0) == child && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
  }();
  return possible;
}

TEST_SUITE("stop_latency") {
  TEST_CASE("a stop ends a DNS lookup the server never answers"
            * doctest::skip(!own_resolv_conf_possible())) {
    rig::TempDir dir;
    const std::string resolv_conf = (dir.path() / "resolv.conf").string();
    // One try, long enough to outlast the stop by far.
    std::ofstream(resolv_conf) << "nameserver " << SilentDns::address << "\noptions timeout:5 attempts:1\n";
    SilentDns dns;
    bool ran = with_resolv_conf(resolv_conf, [&] {
      for (int round = 0; round < rounds; ++round) {
        // Names of this round only: the server counts each name once.
        std::vector<std::string> names;
        for (std::size_t i = 0; i < hosts_per_round; ++i)
          names.push_back("r" + std::to_string(round) + "-" + std::to_string(i) + ".pssh-test");
        const std::size_t names_before = dns.names_asked();
        Ends ends;
        pssh::ParallelClient client(names, options_with(ends));
        record("DNS lookup", cancel_when(client, ends, [&] {
                 return eventually([&] { return dns.names_asked() >= names_before + hosts_per_round; });
               }));
        check_all_cancelled(client.get_last_output());
      }
    });
    REQUIRE(ran);
    check_phase("DNS lookup");
  }

  TEST_CASE("a stop ends a TCP connect that gets no answer") {
    FullBacklog backlog;
    REQUIRE(backlog.connect_stalls());
    for (int round = 0; round < rounds; ++round) {
      Ends ends;
      auto options = options_with(ends);
      options.port = backlog.port();
      pssh::ParallelClient client(local_hosts(), options);
      record("TCP connect", cancel_when(client, ends, [&] {
               return ends.wait_for(pssh::Event::Kind::connecting, hosts_per_round);
             }));
      check_all_cancelled(client.get_last_output());
    }
    check_phase("TCP connect");
  }

  TEST_CASE("a stop ends the wait for the server's banner") {
    stop_at_fake_server(rig::FakeServer::Behaviour::blackhole, "banner");
  }

  TEST_CASE("a stop ends a key exchange the server never answers") {
    stop_at_fake_server(rig::FakeServer::Behaviour::banner_then_silence, "key exchange");
  }

  TEST_CASE("a stop ends a login whose host vanished") {
    stop_after_vanishing_at(pssh::Event::Kind::connected, "host key and login");
  }

  TEST_CASE("a stop ends the wait for an agent that never answers, and for its slots") {
    for (int round = 0; round < rounds; ++round) {
      rig::SilentAgent agent;
      Ends ends;
      auto options = options_with(ends);
      options.pkey.reset();
      options.identity_auth = false;
      options.allow_agent = true;
      options.identity_agent = agent.path();
      pssh::ParallelClient client(local_hosts(), options);
      // Eight hosts at most talk to an agent at once; the others wait for a slot.
      record("agent (talking, or waiting for a slot)", cancel_when(client, ends, [&] {
               return agent.wait_for(static_cast<int>(std::min<std::size_t>(hosts_per_round, 8)),
                                 std::chrono::duration_cast<std::chrono::milliseconds>(30s * slowdown));
             }));
      check_all_cancelled(client.get_last_output());
    }
    check_phase("agent (talking, or waiting for a slot)");
  }

  TEST_CASE("a stop ends the wait for a proxy that never answers") {
    for (int round = 0; round < rounds; ++round) {
      rig::FakeServer silent_proxy(rig::FakeServer::Behaviour::blackhole);
      Ends ends;
      auto options = options_with(ends);
      options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = silent_proxy.port()};
      pssh::ParallelClient client(rig::loopback_hosts(hosts_per_round), options);
      // One host connects the proxy; the others wait for it.
      record("proxy connect", cancel_when(client, ends, [&] {
               return eventually([&] { return silent_proxy.accepted() >= 1; }) &&
                      ends.wait_for(pssh::Event::Kind::connecting, hosts_per_round);
             }));
      check_all_cancelled(client.get_last_output());
    }
    check_phase("proxy connect");
  }

  TEST_CASE("a stop ends a channel open whose host vanished") {
    stop_after_vanishing_at(pssh::Event::Kind::authenticated, "channel open and exec");
  }

  TEST_CASE("cancel(), close_channel() and a command timeout end a running command") {
    stop_running_command("running command: cancel()", true, [](pssh::ParallelClient& client, const pssh::Output&) {
      client.cancel();
    });
    stop_running_command("running command: close_channel()", false, [](pssh::ParallelClient&, const pssh::Output& output) {
      for (const auto& h : output) h.close_channel();
    });
    // Deaf to TERM and never silent: only the cut after the grace ends it,
    // while the server keeps sending (a cut shuts only the reading side,
    // and the kernel keeps queueing what comes). A sink takes the bytes as
    // fast as they come, without memory.
    stop_running_command(
        "running command flooding output: cancel()", true,
        [](pssh::ParallelClient& client, const pssh::Output&) { client.cancel(); }, "trap '' TERM; exec yes",
        {.on_output = [](const pssh::HostOutput&, pssh::Stream, std::string_view) {}});
    for (int round = 0; round < rounds; ++round) {
      Ends ends;
      pssh::ParallelClient client(local_hosts(), options_with(ends));
      client.connect_auth();
      auto start = Clock::now();
      constexpr auto timeout = 300ms;
      auto output = client.run_command("sleep 100", {.stop_on_errors = false, .command_timeout = timeout});
      client.join(output);
      // The deadline is armed when each command starts: after `start`, so
      // this counts a little more than the stop's own latency.
      record("running command: timeout", ends.since(start + timeout, hosts_per_round));
      for (const auto& h : output) CHECK(host_error_is<pssh::Timeout>(h));
    }
    check_phase("running command: cancel()");
    check_phase("running command: close_channel()");
    check_phase("running command flooding output: cancel()");
    check_phase("running command: timeout");
  }

  TEST_CASE("a stop at a random moment of connect, login and command ends every host") {
    // The phases above hold the hosts where the test can find them; a stop
    // also lands between them, inside libssh's own calls. The moments are
    // drawn afresh each run; the seed repeats a run.
    const std::string phase = "random moment (connect to exit)";
    unsigned seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 draw(seed);
    // The moments span one whole run of this build on this machine.
    auto begun = Clock::now();
    {
      Ends ends;
      pssh::ParallelClient client(local_hosts(), options_with(ends));
      client.join(client.run_command("true"));
    }
    auto whole_run = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begun);
    std::uniform_int_distribution<long> moments(0, whole_run.count());
    for (int round = 0; round < random_rounds; ++round) {
      Ends ends;
      pssh::ParallelClient client(local_hosts(), options_with(ends));
      pssh::Output output;
      std::thread runner([&] { output = client.run_command("true", {.stop_on_errors = false}); });
      std::this_thread::sleep_for(std::chrono::milliseconds(moments(draw)));
      auto stopped = Clock::now();
      client.cancel();
      runner.join();
      client.join(output);
      std::vector<double> stops;
      for (double seconds : ends.since(stopped, hosts_per_round))
        if (seconds >= 0) stops.push_back(seconds);  // a host done before the stop was not stopped
      record(phase, stops);
      for (const auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        CHECK((!h.exception() || host_error_is<pssh::Cancelled>(h)));
      }
    }
    // Most stops land before their host's end.
    CHECK(table.latencies.at(phase).size() * 2 >= random_rounds * hosts_per_round);
    check_phase(phase);
  }

  TEST_CASE("a stop ends an SFTP and an SCP upload whose host vanished") {
    const std::string& file = big_file();
    for (bool scp : {false, true}) {
      for (int round = 0; round < rounds; ++round) {
        Ends ends;
        FrozenAt frozen(pssh::Event::Kind::transfer, ends);
        rig::TempDir target;
        pssh::ParallelClient client(local_hosts(), frozen.options(), frozen.config());
        pssh::CopyOptions copy;
        for (std::size_t i = 0; i < hosts_per_round; ++i) copy.copy_args.push_back({{"n", std::to_string(i)}});
        auto remote = (target.path() / "copy-{n}").string();
        auto transfers = scp ? client.scp_send(file, remote, copy) : client.copy_file(file, remote, copy);
        REQUIRE(ends.wait_for(pssh::Event::Kind::transfer, hosts_per_round));
        auto stop = Clock::now();
        client.cancel();
        for (auto& t : transfers) t.wait();
        record(scp ? "SCP upload" : "SFTP upload", ends.since(stop, hosts_per_round));
        for (auto& t : transfers) {
          INFO(error_message(t.exception()));
          CHECK(error_is<pssh::Cancelled>(t.exception()));
        }
      }
    }
    check_phase("SFTP upload");
    check_phase("SCP upload");
  }
}

