// Connecting: addresses, deadlines, retries and each connection error.
#include "common.hpp"

#include <ctime>

#include <signal.h>

using namespace std::chrono_literals;

namespace {

pssh::ClientOptions fast_failing() {
  auto options = server().options();
  options.timeout = 1s;
  return options;
}

}  // namespace

TEST_SUITE("session") {
  TEST_CASE("a command runs on the test sshd and reports its exit code") {
    pssh::Client client("127.0.0.2", server().options());
    auto output = client.run_command("echo hello; exit 3");
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"hello"});
    client.wait_finished(output);
    CHECK(output.exit_code() == 3);
    CHECK(output.host() == "127.0.0.2");
    CHECK_FALSE(output.exception());
  }

  TEST_CASE("an IPv6 literal in brackets reaches the sshd on ::1") {
    pssh::Client client("[::1]", server().options());
    auto output = client.run_command("echo $SSH_CONNECTION");
    auto out = lines(output.stdout_lines());
    REQUIRE(out.size() == 1);
    CHECK(out[0].rfind("::1 ", 0) == 0);
  }

  TEST_CASE("ipv6_only connects to an IPv6 literal") {
    auto options = server().options();
    options.ipv6_only = true;
    pssh::Client client("::1", options);
    auto output = client.run_command("echo $SSH_CONNECTION");
    auto out = lines(output.stdout_lines());
    REQUIRE(out.size() == 1);
    CHECK(out[0].rfind("::1 ", 0) == 0);
  }

  TEST_CASE("compress negotiates zlib with the server") {
    rig::Sshd logging({.listeners = 1, .extra_config = {"LogLevel DEBUG1", "Compression yes"},
                       .host_key = {}});
    auto options = logging.options();
    options.compress = true;
    pssh::Client client("127.0.0.2", options);
    auto output = client.run_command("head -c 200000 /dev/zero | wc -c");
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"200000"});
    client.wait_finished(output);
    CHECK(rig::read_file(logging.dir() / "sshd.log").find("compression: zlib") != std::string::npos);
  }

  TEST_CASE("keepalive: an idle command survives; a frozen server is a Timeout, not a hang") {
    rig::Sshd frozen;
    auto options = frozen.options();
    options.keepalive = 300ms;
    pssh::Client client("127.0.0.2", options);
    auto quiet = client.run_command("sleep 2; echo alive");
    INFO(error_message(quiet));
    CHECK(lines(quiet.stdout_lines()) == std::vector<std::string>{"alive"});
    client.wait_finished(quiet);
    CHECK(quiet.exit_code() == 0);

    auto output = client.run_command("echo started; sleep 60");
    CHECK(*output.stdout_lines().begin() == "started");
    auto connections = rig::child_pids(frozen.pid());
    for (pid_t pid : connections) ::kill(pid, SIGSTOP);
    auto start = std::chrono::steady_clock::now();
    client.wait_finished(output, 20s);
    double waited = seconds_since(start);
    for (pid_t pid : connections) ::kill(pid, SIGKILL), ::kill(pid, SIGCONT);
    CHECK(waited < 5 * slowdown);
    REQUIRE(host_error_is<pssh::Timeout>(output));
    CHECK(error_message(output).find("no answer from 127.0.0.2 to a keepalive within 900 ms") !=
          std::string::npos);
  }

  TEST_CASE("ipv6_only refuses a name without an IPv6 address") {
    auto options = server().options();
    options.ipv6_only = true;
    pssh::Client client("127.0.0.2", options);
    CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::NoIPv6AddressFoundError,
                            "has no IPv6 address");
  }

  TEST_CASE("a refused port is a ConnectionError naming host and port") {
    auto options = fast_failing();
    options.port = rig::refused_port();
    pssh::Client client("127.0.0.2", options);
    CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::ConnectionError,
                            "cannot connect to 127.0.0.2 port " + std::to_string(*options.port));
  }

  TEST_CASE("num_retries retries a refused connection after retry_delay") {
    auto options = fast_failing();
    options.port = rig::refused_port();
    options.num_retries = 3;  // three attempts, two pauses
    options.retry_delay = 300ms;
    pssh::Client client("127.0.0.2", options);
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(client.run_command("true"), pssh::ConnectionError);
    CHECK(seconds_since(start) >= 0.6);
  }

  TEST_CASE("num_retries is the number of attempts, as parallel-ssh's docs say: the server sees each") {
    for (auto behaviour : {rig::FakeServer::Behaviour::blackhole,
                           rig::FakeServer::Behaviour::close_mid_handshake}) {
      rig::FakeServer peer(behaviour);
      auto options = fast_failing();
      options.port = peer.port();
      options.num_retries = 2;
      options.retry_delay = 100ms;
      pssh::Client client("127.0.0.1", options);
      CHECK_THROWS(client.run_command("true"));
      // The run is over: every attempt it made has been accepted.
      CHECK(eventually([&] { return peer.accepted() == 2; }, 2s));
      CHECK(peer.accepted() == 2);
    }
  }

  TEST_CASE("an unknown host name is an UnknownHostError") {
    pssh::Client client("no-such-host.invalid", fast_failing());
    CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::UnknownHostError,
                            "cannot resolve host name no-such-host.invalid");
  }

  TEST_CASE("a host that never sends a banner times out within the timeout") {
    rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
    auto options = fast_failing();
    options.port = blackhole.port();
    pssh::Client client("127.0.0.1", options);
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::Timeout,
                            "SSH handshake on ");
    CHECK(seconds_since(start) < 3.0 * slowdown);
  }

  TEST_CASE("a host that sends a banner and hangs times out") {
    rig::FakeServer silent(rig::FakeServer::Behaviour::banner_then_silence);
    auto options = fast_failing();
    options.port = silent.port();
    pssh::Client client("127.0.0.1", options);
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::Timeout, "timed out after 1 s");
    CHECK(seconds_since(start) < 3.0 * slowdown);
  }

  TEST_CASE("half a banner: a peer that stalls times out without spinning, one that closes fails at once") {
    rig::FakeServer stalling(rig::FakeServer::Behaviour::partial_banner);
    auto options = fast_failing();
    options.port = stalling.port();
    pssh::Client client("127.0.0.1", options);
    std::clock_t cpu_before = std::clock();
    CHECK_THROWS_AS(client.run_command("true"), pssh::Timeout);
    // The wait was 1 s: a busy loop on the peeked bytes would burn all of it.
    CHECK(double(std::clock() - cpu_before) / CLOCKS_PER_SEC < 0.5);

    rig::FakeServer closing(rig::FakeServer::Behaviour::partial_then_close);
    options.port = closing.port();
    options.timeout = 30s;
    pssh::Client other("127.0.0.1", options);
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(other.run_command("true"), pssh::SessionError);
    CHECK(seconds_since(start) < 10 * slowdown);
  }

  TEST_CASE("a handshake that fails says what the peer did, as a SessionError (parallel-ssh's docs)") {
    using Behaviour = rig::FakeServer::Behaviour;
    const std::pair<Behaviour, const char*> peers[] = {
        {Behaviour::close_mid_handshake,
         "the server closed the connection during key exchange (server 'SSH-2.0-OpenSSH_9.2p1 FakeServer')"},
        {Behaviour::close_at_once, "the server closed the connection before sending its banner"},
        {Behaviour::http, "it is not an SSH server: it sent 'HTTP/1.1 400 Bad Request'"},
    };
    for (const auto& [behaviour, said] : peers) {
      rig::FakeServer peer(behaviour);
      auto options = fast_failing();
      options.port = peer.port();
      pssh::Client client("127.0.0.1", options);
      CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::SessionError,
                              "SSH handshake with " + options.user.value_or("") + "@127.0.0.1:" +
                                  std::to_string(peer.port()) + " failed: " + said);
    }
  }

  TEST_CASE("the session is reused: the second command does not connect again") {
    std::atomic<int> connects{0};
    auto options = server().options();
    options.on_event = [&](const pssh::Event& e) {
      if (e.kind == pssh::Event::Kind::connecting) ++connects;
    };
    pssh::Client client("127.0.0.2", options);
    for (int i = 0; i < 3; ++i) {
      auto output = client.run_command("echo " + std::to_string(i));
      client.wait_finished(output);
      CHECK(lines(output.stdout_lines()) == std::vector<std::string>{std::to_string(i)});
    }
    CHECK(connects == 1);
    client.disconnect();
    auto output = client.run_command("true");
    client.wait_finished(output);
    CHECK(output.exit_code() == 0);
    CHECK(connects == 2);
  }

  TEST_CASE("connections and failures leave no file descriptor behind") {
    int before = open_fds();
    {
      pssh::ParallelClient client(rig::loopback_hosts(5), server().options());
      auto output = client.run_command("true");
      client.join(output);
      auto options = fast_failing();
      options.port = rig::refused_port();
      pssh::ParallelClient failing(rig::loopback_hosts(3), options);
      auto failed = failing.run_command("true", {.stop_on_errors = false});
      failing.join(failed);
      CHECK(host_error_is<pssh::ConnectionError>(failed[0]));
    }
    CHECK(open_fds() == before);
  }
}
