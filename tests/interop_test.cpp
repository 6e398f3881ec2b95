// The same everyday work against each SSH server pssh meets in fleets:
// OpenSSH, Dropbear and tinysshd. PSSH_INTEROP_SERVER names the server
// (tests/meson.build registers one test per server); what a server does not
// offer (tinysshd: password, RSA and ECDSA keys) is checked to fail clearly instead.
#include "common.hpp"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

rig::InteropServer& interop_server() {
  static rig::InteropServer instance(rig::InteropServer::kind_named(
      std::getenv("PSSH_INTEROP_SERVER") ? std::getenv("PSSH_INTEROP_SERVER") : "openssh"));
  return instance;
}

/// A directory the interop user may write into, removed at the end.
struct SharedDir {
  SharedDir() {
    fs::permissions(dir.path(), fs::perms::all | fs::perms::sticky_bit);
  }
  rig::TempDir dir;
  std::string operator/(const std::string& name) const { return (dir.path() / name).string(); }
};

}  // namespace

TEST_SUITE("interop") {
  TEST_CASE("commands: output, stderr, exit codes and stdin") {
    INFO(interop_server().name());
    pssh::Client client("127.0.0.1", interop_server().options());
    auto out = client.run_command("echo out; echo err >&2; id -un; exit 3");
    client.wait_finished(out, 60s);
    CHECK_FALSE(out.exception());
    CHECK(lines(out.stdout_lines()) == std::vector<std::string>{"out", rig::interop_user().name});
    CHECK(lines(out.stderr_lines()) == std::vector<std::string>{"err"});
    CHECK(out.exit_code() == 3);

    auto cat = client.run_command("cat; echo done");
    cat.stdin_writer().write("line one\nline two\n");
    cat.stdin_writer().close();
    client.wait_finished(cat, 60s);
    CHECK(lines(cat.stdout_lines()) == std::vector<std::string>{"line one", "line two", "done"});
    CHECK(cat.exit_code() == 0);
  }

  TEST_CASE("a PTY: stderr arrives on stdout") {
    INFO(interop_server().name());
    pssh::Client client("127.0.0.1", interop_server().options());
    auto out = client.run_command("tty >/dev/null && echo has-tty; echo to-err >&2",
                                  {.use_pty = true, .stop_on_errors = false});
    client.wait_finished(out, 60s);
    CHECK_FALSE(out.exception());
    auto got = lines(out.stdout_lines());
    CHECK(std::find(got.begin(), got.end(), "has-tty") != got.end());
    CHECK(std::find(got.begin(), got.end(), "to-err") != got.end());
    // The connection serves the next command.
    auto next = client.run_command("echo next");
    client.wait_finished(next, 60s);
    CHECK(lines(next.stdout_lines()) == std::vector<std::string>{"next"});
  }

  TEST_CASE("SFTP and SCP, both ways") {
    INFO(interop_server().name());
    SharedDir remote;
    rig::TempDir local;
    std::string payload(300 * 1024, 'x');
    for (std::size_t i = 0; i < payload.size(); i += 97) payload[i] = static_cast<char>('a' + i % 26);
    rig::write_file(local.path() / "payload", payload);
    pssh::Client client("127.0.0.1", interop_server().options());

    client.copy_file((local.path() / "payload").string(), remote / "by-sftp");
    client.scp_send((local.path() / "payload").string(), remote / "by-scp");
    CHECK(rig::read_file(remote / "by-sftp") == payload);
    CHECK(rig::read_file(remote / "by-scp") == payload);
    client.copy_remote_file(remote / "by-scp", (local.path() / "back-sftp").string());
    client.scp_recv(remote / "by-sftp", (local.path() / "back-scp").string());
    CHECK(rig::read_file(local.path() / "back-sftp") == payload);
    CHECK(rig::read_file(local.path() / "back-scp") == payload);
  }

  TEST_CASE("a shell keeps its state between commands") {
    INFO(interop_server().name());
    pssh::Client client("127.0.0.1", interop_server().options());
    pssh::Shell shell = client.open_shell();
    shell.run("x=kept; cd /");
    shell.run({"echo $x; pwd", "sh -c 'exit 6'"});
    shell.join(60s);
    CHECK_FALSE(shell.exception());
    CHECK(lines(shell.stdout_lines()) == std::vector<std::string>{"kept", "/"});
    CHECK(shell.exit_code() == 6);
  }

  TEST_CASE("one client, 50 operations in a row: commands, SFTP, SCP, shells") {
    INFO(interop_server().name());
    SharedDir remote;
    rig::TempDir local;
    rig::write_file(local.path() / "small", "small file\n");
    pssh::Client client("127.0.0.1", interop_server().options());
    within(300s, [&] {
      for (int i = 0; i < 50; ++i) {
        INFO("operation " << i);
        std::string n = std::to_string(i);
        switch (i % 5) {
          case 0: {
            auto out = client.run_command("echo " + n);
            client.wait_finished(out, 60s);
            CHECK_FALSE(out.exception());
            CHECK(lines(out.stdout_lines()) == std::vector<std::string>{n});
            break;
          }
          case 1:
            client.copy_file((local.path() / "small").string(), remote / ("sftp-" + n));
            CHECK(rig::read_file(remote / ("sftp-" + n)) == "small file\n");
            break;
          case 2:
            client.scp_send((local.path() / "small").string(), remote / ("scp-" + n));
            CHECK(rig::read_file(remote / ("scp-" + n)) == "small file\n");
            break;
          case 3: {
            pssh::Shell shell = client.open_shell();
            shell.run("echo shell " + n);
            shell.join(60s);
            CHECK(lines(shell.stdout_lines()) == std::vector<std::string>{"shell " + n});
            break;
          }
          default:
            client.copy_remote_file(remote / ("sftp-" + std::to_string(i - 3)),
                                    (local.path() / ("back-" + n)).string());
            CHECK(rig::read_file(local.path() / ("back-" + n)) == "small file\n");
        }
      }
    });
  }

  TEST_CASE("a connection the server dropped while idle is replaced, not failed") {
    INFO(interop_server().name());
    std::atomic<int> connects{0};
    auto options = interop_server().options();
    options.on_event = [&](const pssh::Event& e) {
      if (e.kind == pssh::Event::Kind::connecting) ++connects;
    };
    pssh::Client client("127.0.0.1", options);
    auto first = client.run_command("echo first");
    client.wait_finished(first, 60s);
    REQUIRE(first.exit_code() == 0);
    auto serving = interop_server().connection_pids();
    for (pid_t pid : serving) ::kill(pid, SIGTERM);
    CHECK(eventually([&] {
      for (pid_t pid : serving)
        if (::kill(pid, 0) == 0) return false;
      return true;
    }));
    // Noticed before any work is given to it: connect_auth() reconnects.
    client.connect_auth();
    CHECK(connects == 2);
    auto second = client.run_command("echo second");
    client.wait_finished(second, 60s);
    CHECK_FALSE(second.exception());
    CHECK(lines(second.stdout_lines()) == std::vector<std::string>{"second"});
  }

  TEST_CASE("every key type the server takes; a password where it offers one") {
    INFO(interop_server().name());
    const auto& user = rig::interop_user();
    std::vector<std::pair<std::string, bool>> keys{{user.key.string(), true},
                                                   {user.key.string() + "_ecdsa", interop_server().has_ecdsa()},
                                                   {user.key.string() + "_rsa", interop_server().has_rsa()}};
    for (const auto& [key, accepted] : keys) {
      INFO(key);
      auto options = interop_server().options();
      options.pkey = pssh::PrivateKey::file(key);
      pssh::Client client("127.0.0.1", options);
      auto out = client.run_command("echo in", {.stop_on_errors = false});
      client.wait_finished(out, 60s);
      if (accepted) {
        CHECK_FALSE(out.exception());
        CHECK(lines(out.stdout_lines()) == std::vector<std::string>{"in"});
      } else {
        REQUIRE(out.exception());
        CHECK_THROWS_AS(std::rethrow_exception(out.exception()), pssh::AuthenticationError);
      }
    }
    auto options = interop_server().options();
    options.pkey.reset();
    options.password = user.password;
    pssh::Client client("127.0.0.1", options);
    auto out = client.run_command("echo by-password", {.stop_on_errors = false});
    client.wait_finished(out, 60s);
    if (interop_server().has_password()) {
      CHECK_FALSE(out.exception());
      CHECK(lines(out.stdout_lines()) == std::vector<std::string>{"by-password"});
    } else {
      CHECK(error_message(out).find("password") != std::string::npos);
    }
  }

  TEST_CASE("ten hosts on one server, two rounds on the kept connections") {
    INFO(interop_server().name());
    std::vector<std::string> hosts(10, "127.0.0.1");
    std::vector<pssh::HostConfig> configs(10);
    for (std::size_t i = 0; i < configs.size(); ++i) configs[i].alias = "h" + std::to_string(i);
    auto options = interop_server().options();
    // Dropbear hangs up on a sixth login at once from one address
    // (MAX_UNAUTH_PER_IP): the README's server matrix says so.
    if (interop_server().kind() == rig::InteropServer::Kind::dropbear) options.pool_size = 5;
    pssh::ParallelClient client(hosts, options, configs);
    for (int round = 0; round < 2; ++round) {
      auto output = client.run_command("echo round " + std::to_string(round));
      client.join(output, {.join_timeout = 120s});
      for (const auto& host : output) {
        INFO(host.alias());
        CHECK_FALSE(host.exception());
        CHECK(lines(host.stdout_lines()) ==
              std::vector<std::string>{"round " + std::to_string(round)});
      }
    }
  }

  TEST_CASE("through a ProxyCommand (nc): operations in a row on kept connections") {
    INFO(interop_server().name());
    auto options = interop_server().options();
    options.proxy_command = "nc %h %p";
    options.timeout = 20s;
    pssh::Client client("127.0.0.1", options);
    within(120s, [&] {
      for (int i = 0; i < 6; ++i) {
        INFO("operation " << i);
        auto out = client.run_command("echo " + std::to_string(i), {.stop_on_errors = false});
        client.wait_finished(out, 60s);
        INFO("error: " << error_message(out));
        CHECK_FALSE(out.exception());
        CHECK(lines(out.stdout_lines()) == std::vector<std::string>{std::to_string(i)});
      }
    });
  }
}
