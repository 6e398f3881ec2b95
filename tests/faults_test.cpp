// Fault injection: one run of 100 hosts where ten of them fail in ten
// different ways. Good hosts must be complete, bad ones must each report
// their own error in time, and nothing may hang or leak.
#include "common.hpp"

#include <signal.h>

#include <filesystem>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string public_key_of(const fs::path& key) {
  std::string line = rig::read_file(key.string() + ".pub");
  return line.substr(0, line.rfind(' '));
}

enum Fault : std::size_t {
  refused, unknown_name, blackhole, banner_then_silence, closed_mid_handshake, auth_failure,
  changed_host_key, sshd_killed, killed_by_signal, stdout_closed, fault_count
};

/// Everything the faults need, made once so that a run can be repeated.
struct FaultyFleet {
  static constexpr std::size_t hosts = 100;
  rig::FakeServer silent_peer{rig::FakeServer::Behaviour::blackhole};
  rig::FakeServer banner_only{rig::FakeServer::Behaviour::banner_then_silence};
  rig::FakeServer closer{rig::FakeServer::Behaviour::close_mid_handshake};
  rig::Sshd victim;  // its connection is killed while the command streams
  rig::TempDir dir;
  fs::path stranger_key = dir.path() / "stranger";
  fs::path wrong_known_hosts = dir.path() / "known_hosts";

  FaultyFleet() {
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger_key.string()});
    rig::write_file(wrong_known_hosts, "[" + rig::loopback_host(changed_host_key) + "]:" +
                                           std::to_string(server().port()) + " " +
                                           public_key_of(stranger_key) + "\n");
  }

  struct Run {
    pssh::Output output;
    double seconds = 0;
  };

  Run run() {
    auto options = server().options();
    options.pool_size = hosts;  // 100 logins at once on 2 cores: the rig's 60 s timeout
    auto names = rig::loopback_hosts(hosts);
    names[unknown_name] = "no-such-host.invalid";
    std::vector<pssh::HostConfig> config(hosts);
    config[refused].port = rig::refused_port();
    // The fake servers listen on 127.0.0.1 only.
    for (Fault fault : {blackhole, banner_then_silence, closed_mid_handshake}) {
      names[fault] = "127.0.0.1";
      config[fault].timeout = 2s;
    }
    config[blackhole].port = silent_peer.port();
    config[banner_then_silence].port = banner_only.port();
    config[closed_mid_handshake].port = closer.port();
    config[auth_failure].pkey = pssh::PrivateKey::file(stranger_key.string());
    config[changed_host_key].known_hosts = wrong_known_hosts.string();
    config[sshd_killed].port = victim.port();
    config[sshd_killed].known_hosts = victim.known_hosts().string();
    config[sshd_killed].pkey = pssh::PrivateKey::file(victim.user_key().string());

    std::vector<pssh::HostArgs> commands;
    for (std::size_t i = 0; i < hosts; ++i) {
      std::string command = "echo good-" + std::to_string(i) + "; seq 1 2000 | tail -n 1; exit " +
                            std::to_string(i % 5);
      if (i == sshd_killed) command = "i=0; while :; do echo line-$i; i=$((i+1)); sleep 0.01; done";
      if (i == killed_by_signal) command = "echo before; kill -9 $$";
      if (i == stdout_closed) command = "exec >&- 2>&-; sleep 1; exit 3";
      commands.emplace_back(std::vector<std::string>{command});
    }
    pssh::ParallelClient client(names, options, config);
    auto start = std::chrono::steady_clock::now();
    Run result{client.run_command("{0}", {.stop_on_errors = false, .host_args = commands}), 0};
    // Kill the victim's connection once its output is flowing.
    CHECK(*result.output[sshd_killed].stdout_lines().begin() == "line-0");
    for (pid_t connection : rig::child_pids(victim.pid())) ::kill(connection, SIGKILL);
    client.join(result.output, {.join_timeout = 60s});  // JoinTimeout would be a hang
    result.seconds = seconds_since(start);
    return result;
  }
};

template <class E>
void check_error(const pssh::HostOutput& h, const std::string& expected) {
  INFO(h.index() << " should fail with " << expected << "; got: " << error_message(h));
  CHECK(host_error_is<E>(h));
}

}  // namespace

TEST_SUITE("faults") {
  TEST_CASE("100 hosts, ten kinds of fault: good hosts complete, bad ones report their own error, nothing leaks") {
    FaultyFleet fleet;
    fleet.run();  // once to bring up oneTBB's workers, which outlive clients by design
    int fds_before = entries_in("/proc/self/fd"), threads_before = entries_in("/proc/self/task");

    auto run = fleet.run();
    auto& output = run.output;
    CHECK(run.seconds < 15 * slowdown);  // the slowest faults wait out the 2 s timeout
    check_error<pssh::ConnectionError>(output[refused], "ConnectionError");
    check_error<pssh::UnknownHostError>(output[unknown_name], "UnknownHostError");
    check_error<pssh::Timeout>(output[blackhole], "Timeout");
    check_error<pssh::Timeout>(output[banner_then_silence], "Timeout");
    check_error<pssh::SessionError>(output[closed_mid_handshake], "SessionError");
    check_error<pssh::AuthenticationError>(output[auth_failure], "AuthenticationError");
    check_error<pssh::HostKeyError>(output[changed_host_key], "HostKeyError");
    check_error<pssh::ConnectionError>(output[sshd_killed], "ConnectionError");
    CHECK(output[killed_by_signal].exit_signal() == "KILL");
    CHECK(output[killed_by_signal].exit_code() == 137);
    CHECK(lines(output[killed_by_signal].stdout_lines()) == std::vector<std::string>{"before"});
    CHECK_FALSE(output[stdout_closed].exception());
    CHECK(output[stdout_closed].exit_code() == 3);
    int wrong = 0;
    for (std::size_t i = fault_count; i < FaultyFleet::hosts; ++i) {
      bool right = !output[i].exception() && output[i].exit_code() == static_cast<int>(i % 5) &&
                   lines(output[i].stdout_lines()) ==
                       std::vector<std::string>{"good-" + std::to_string(i), "2000"};
      if (!right) MESSAGE(output[i].host() << ": " << error_message(output[i]));
      wrong += !right;
    }
    CHECK(wrong == 0);
    output.clear();  // the last handles on the hosts' runs

    // The fake servers close their side once they see ours close.
    CHECK(eventually([&] { return entries_in("/proc/self/fd") == fds_before; }, 2s));
    CHECK(entries_in("/proc/self/task") <= threads_before);
  }
}
