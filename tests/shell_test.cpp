// Interactive shells: several commands on one channel, shared shell state,
// the last command's exit code, PTY, read timeouts, join timeouts, RAII.
#include "common.hpp"

#include <filesystem>

using namespace std::chrono_literals;

TEST_SUITE("shell") {
  TEST_CASE("commands share one shell on every host; exit_code is the last command's") {
    pssh::ParallelClient client(rig::loopback_hosts(5), server().options());
    auto shells = client.open_shell();
    REQUIRE(shells.size() == 5);
    client.run_shell_commands(shells, "echo one; x=two");
    client.run_shell_commands(shells, {"cd /tmp", "echo $x; pwd", "echo oops >&2", "sh -c 'exit 7'"});
    client.join_shells(shells, 30s);
    for (auto& shell : shells) {
      INFO(shell.host());
      CHECK_FALSE(shell.exception());
      CHECK(lines(shell.stdout_lines()) == std::vector<std::string>{"one", "two", "/tmp"});
      CHECK(lines(shell.stderr_lines()) == std::vector<std::string>{"oops"});
      CHECK(shell.exit_code() == 7);
      CHECK(shell.joined());
      CHECK_THROWS_CONTAINING(shell.run("echo again"), pssh::ShellError, "was joined");
    }
  }

  TEST_CASE("output streams before join; read_timeout bounds a wait for a line") {
    pssh::Client client("127.0.0.2", server().options());
    pssh::Shell shell = client.open_shell({.read_timeout = 500ms});
    shell.run("echo first");
    auto range = shell.stdout_lines();
    auto line = range.begin();
    REQUIRE(line != range.end());
    CHECK(*line == "first");
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_AS(++line, pssh::Timeout);
    CHECK(seconds_since(start) < 5 * slowdown);
    shell.run("echo second; exit 3");
    shell.join(30s);
    CHECK(lines(shell.stdout_lines()) == std::vector<std::string>{"second"});
    CHECK(shell.exit_code() == 3);
  }

  TEST_CASE("with a PTY the shell echoes, stderr arrives on stdout, exit code is kept") {
    pssh::Client client("127.0.0.2", server().options());
    pssh::Shell shell = client.open_shell({.use_pty = true});
    shell.run({"stty -echo", "echo to-err >&2", "sh -c 'exit 4'"});
    shell.join(30s);
    bool saw_stderr = false;
    for (const auto& l : shell.stdout_lines()) saw_stderr |= l.find("to-err") != std::string::npos;
    CHECK(saw_stderr);
    CHECK(lines(shell.stderr_lines()).empty());
    CHECK(shell.exit_code() == 4);
  }

  TEST_CASE("join_shells times out with the outputs; a later join waits") {
    pssh::ParallelClient client(rig::loopback_hosts(2), server().options());
    auto shells = client.open_shell();
    client.run_shell_commands(shells, "sleep 2");
    try {
      client.join_shells(shells, 200ms);
      FAIL("expected JoinTimeout");
    } catch (const pssh::JoinTimeout& e) {
      CHECK(e.unfinished_output().size() == 2);
    }
    client.join_shells(shells, 30s);
    for (auto& shell : shells) CHECK(shell.exit_code() == 0);
  }

  TEST_CASE("a Client shell going out of scope still runs what it was sent") {
    rig::TempDir dir;
    auto marker = dir.path() / "ran";
    pssh::Client client("127.0.0.2", server().options());
    {
      pssh::Shell shell = client.open_shell();
      shell.run("touch " + marker.string());
    }
    // The connection's next work waits for the shell to exit.
    auto output = client.run_command("test -f " + marker.string());
    client.wait_finished(output, 30s);
    CHECK(output.exit_code() == 0);
  }

  TEST_CASE("a host that cannot open a shell reports its own error") {
    auto options = server().options();
    options.num_retries = 0;
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, options,
                                {{}, {.port = rig::refused_port()}});
    auto shells = client.open_shell({.stop_on_errors = false});
    CHECK_FALSE(shells[0].exception());
    CHECK(host_error_is<pssh::ConnectionError>(shells[1].output()));
    client.run_shell_commands(shells, "echo ok");  // skips the failed host
    CHECK_THROWS_AS(shells[1].run("echo"), pssh::ConnectionError);
    client.join_shells(shells, 30s);
    CHECK(lines(shells[0].stdout_lines()) == std::vector<std::string>{"ok"});
    CHECK_THROWS_AS(pssh::ParallelClient(std::vector<std::string>{"127.0.0.3"}, options,
                                         {{.port = rig::refused_port()}})
                        .open_shell(),
                    pssh::ConnectionError);
  }
}
