// run_command on one host: streams, stdin, exit codes and signals, PTY,
// read timeouts, encodings, sudo/shell wrapping.
#include "common.hpp"

#include "config/remote_env.hpp"
#include "config/settings.hpp"
#include "engine/host_state.hpp"
#include "engine/command_pump.hpp"
#include "ssh/session.hpp"

#include <cstdlib>
#include <numeric>

using namespace std::chrono_literals;

namespace {

// Not a static: libssh and OpenSSL tear themselves down before statics are
// destroyed, so a client must not outlive main().
/// An sshd that accepts PSSH_* variables (and no other).
struct EnvServer {
  rig::Sshd sshd{{.extra_config = {"AcceptEnv PSSH_*"}}};
};

struct OneHost {
  pssh::Client& client() { return client_; }
  pssh::Client client_{"127.0.0.2", server().options()};
};

}  // namespace

TEST_SUITE("command") {
  TEST_CASE_FIXTURE(OneHost, "stdout and stderr arrive separately, in order, with the exit code") {
    auto output = client().run_command("echo out1; echo err1 >&2; echo out2; exit 7");
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"out1", "out2"});
    CHECK(lines(output.stderr_lines()) == std::vector<std::string>{"err1"});
    client().wait_finished(output);
    CHECK(output.exit_code() == 7);
    CHECK_FALSE(output.exit_signal());
    CHECK(output.finished());
  }

  TEST_CASE_FIXTURE(OneHost, "binary bytes and a last line without newline survive") {
    auto output = client().run_command("printf 'a\\000b\\377\\nlast'");
    auto out = lines(output.stdout_lines());
    REQUIRE(out.size() == 2);
    CHECK(out[0] == std::string("a\0b\xff", 4));
    CHECK(out[1] == "last");
  }

  TEST_CASE_FIXTURE(OneHost, "large output is complete and in order") {
    auto output = client().run_command("seq 1 200000");
    long expected = 1, wrong = 0;
    for (const auto& line : output.stdout_lines()) wrong += std::stol(line) != expected++;
    CHECK(expected == 200001);
    CHECK(wrong == 0);
  }

  TEST_CASE_FIXTURE(OneHost, "stdin is written, flushed and closed") {
    auto output = client().run_command("cat; echo done");
    auto in = output.stdin_writer();
    in.write("line one\n");
    in.write("line two");
    in.flush();
    in.close();
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"line one", "line twodone"});
    client().wait_finished(output);
    CHECK(output.exit_code() == 0);
  }

  TEST_CASE_FIXTURE(OneHost, "flush() of more input than the output cap, to a command that echoes it") {
    // cat answers before it reads on: while flush() waits, nobody reads, so
    // the default cap must not stop the echo.
    auto output = client().run_command("cat");
    auto in = output.stdin_writer();
    within(60s, [&] {
      in.write(std::string(20'000'000, 'x'));
      in.flush();
      in.close();
    });
    CHECK(read_chunks(output.stdout_chunks()).size() == 20'000'000);
  }

  TEST_CASE_FIXTURE(OneHost, "a command killed by a signal reports it") {
    auto output = client().run_command("kill -KILL $$");
    client().wait_finished(output);
    CHECK(output.exit_signal() == "KILL");
    CHECK(output.exit_code() == 137);
  }

  TEST_CASE_FIXTURE(OneHost, "read_timeout raises Timeout on silence, and reading can resume") {
    auto output = client().run_command("sleep 1; echo late", {.read_timeout = 200ms});
    auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_CONTAINING(lines(output.stdout_lines()), pssh::Timeout,
                            "no output line from 127.0.0.2 on stdout within 200 ms");
    CHECK(seconds_since(start) < 0.9 * slowdown);
    output.set_read_timeout(0ms);
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"late"});
  }

  TEST_CASE_FIXTURE(OneHost, "with a PTY stderr arrives on stdout, and close_channel ends the command") {
    auto output = client().run_command("echo out; echo err >&2", {.use_pty = true});
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"out", "err"});
    CHECK(lines(output.stderr_lines()).empty());

    auto endless = client().run_command("echo started; sleep 100", {.use_pty = true});
    auto it = endless.stdout_lines().begin();
    CHECK(*it == "started");
    auto start = std::chrono::steady_clock::now();
    endless.close_channel();
    client().wait_finished(endless, 30s);
    CHECK(seconds_since(start) < 2.0 * slowdown);
    CHECK_FALSE(endless.exception());
  }

  TEST_CASE_FIXTURE(OneHost, "a whole-command timeout ends the command and reports Timeout") {
    auto start = std::chrono::steady_clock::now();
    auto output = client().run_command("echo before; sleep 100", {.command_timeout = 500ms});
    client().wait_finished(output);
    CHECK(seconds_since(start) < 3.0 * slowdown);
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"before"});
    REQUIRE(host_error_is<pssh::Timeout>(output));
    CHECK(error_message(output) ==
          "command on 127.0.0.2 did not finish within 500 ms (timeout); it was sent TERM");
    // The connection still serves the next command.
    auto next = client().run_command("echo after");
    CHECK(lines(next.stdout_lines()) == std::vector<std::string>{"after"});
  }

  TEST_CASE_FIXTURE(OneHost, "wait_finished with a timeout throws Timeout, then waits again") {
    auto output = client().run_command("sleep 1");
    CHECK_THROWS_CONTAINING(client().wait_finished(output, 100ms), pssh::Timeout,
                            "command on 127.0.0.2 did not finish within 100 ms");
    client().wait_finished(output);
    CHECK(output.exit_code() == 0);
  }

  TEST_CASE_FIXTURE(OneHost, "a non-UTF-8 encoding converts the output, and the command when asked") {
    const std::string command = "printf '%s\\n' 'café'; printf 'na\\357ve\\n'";
    auto output = client().run_command(command, {.encoding = "latin1", .encode_command = true});
    // The command went out as Latin-1 ("é" one byte) and came back converted.
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"café", "naïve"});
    // By default the command goes out as written (UTF-8: "é" two bytes,
    // each read back as a Latin-1 character).
    output = client().run_command(command, {.encoding = "latin1"});
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"caf\u00c3\u00a9", "naïve"});
    CHECK_THROWS_AS(client().run_command("true", {.encoding = "no-such-charset"}),
                    pssh::ConfigError);
  }

  TEST_CASE_FIXTURE(OneHost, "encodings as Python spells them") {
    // "\351" is é in Latin-1, Latin-9 and cp1252; "\200" is € in cp1252.
    for (const char* name : {"latin-1", "latin_1", "L1", "iso8859_15", "latin_9", "cp1252", "windows_1252"}) {
      INFO(name);
      auto output = client().run_command("printf 'caf\\351\\n'", {.encoding = name});
      CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"café"});
    }
    auto output = client().run_command("printf '\\200\\n'", {.encoding = "cp1252"});
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"€"});
    for (const char* name : {"utf_8", "UTF8", "u8"}) {
      output = client().run_command("echo café", {.encoding = name});
      CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"café"});
    }
  }

  TEST_CASE_FIXTURE(OneHost, "UTF-16 and UTF-32 output is decoded before it is cut into lines") {
    // "héĊ😀\nok\n" as printf octal escapes. Ċ (U+010A) holds the byte 0x0A
    // in both encodings, and the first printf stops inside a character that
    // the second, 0.3 s later, completes.
    struct Encoded {
      const char* encoding;
      const char* first;
      const char* rest;
    };
    const Encoded cases[] = {
        {"utf_16_le", R"(\150\000\351\000\012\001\075\330\000)",
         R"(\336\012\000\157\000\153\000\012\000)"},
        {"UTF-32BE", R"(\000\000\000\150\000\000\000\351\000\000)",
         R"(\001\012\000\001\366\000\000\000\000\012\000\000\000\157\000\000\000\153\000\000\000\012)"},
    };
    for (const Encoded& c : cases) {
      INFO(c.encoding);
      auto output = client().run_command(
          std::string("printf '") + c.first + "'; sleep 0.3; printf '" + c.rest + "'",
          {.encoding = c.encoding});
      CHECK(lines(output.stdout_lines()) ==
            std::vector<std::string>{"h\u00e9\u010a\U0001F600", "ok"});
    }
    // A lone low surrogate is one U+FFFD, and the units after it still read
    // whole: "A" and the newline.
    auto output = client().run_command(R"(printf '\000\334\101\000\012\000')", {.encoding = "UTF-16LE"});
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"\uFFFDA"});
  }

  TEST_CASE_FIXTURE(OneHost, "shell wraps and quotes the command") {
    auto output = client().run_command("echo \"$0\" 'quoted words'", {.shell = "bash -c"});
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"bash quoted words"});
  }

  TEST_CASE_FIXTURE(EnvServer, "RunOptions::env reaches the command; a variable the server refuses is left out") {
    pssh::Client client("127.0.0.2", sshd.options());
    auto output = client.run_command("echo \"$PSSH_GREETING|${REFUSED_VAR-unset}\"",
                                     {.env = {{"PSSH_GREETING", "hello world"}, {"REFUSED_VAR", "x"}}});
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"hello world|unset"});
    client.wait_finished(output);
    CHECK(output.exit_code() == 0);
    CHECK_FALSE(output.exception());
    auto shell = client.open_shell({.env = {{"PSSH_IN_SHELL", "yes"}}});
    shell.run("echo shell-$PSSH_IN_SHELL");
    shell.join();
    CHECK(lines(shell.stdout_lines()) == std::vector<std::string>{"shell-yes"});
  }

  TEST_CASE_FIXTURE(EnvServer, "RunOptions::host_env gives each host its own variables over env; too few is an error") {
    pssh::ParallelClient client(rig::loopback_hosts(3), sshd.options());
    auto output = client.run_command("echo $PSSH_SHARED $PSSH_OWN",
                                     {.env = {{"PSSH_SHARED", "all"}, {"PSSH_OWN", "none"}},
                                      .host_env = {{{"PSSH_OWN", "first"}}, {}, {{"PSSH_OWN", "third"}}}});
    client.join(output);
    CHECK(lines(output[0].stdout_lines()) == std::vector<std::string>{"all first"});
    CHECK(lines(output[1].stdout_lines()) == std::vector<std::string>{"all none"});
    CHECK(lines(output[2].stdout_lines()) == std::vector<std::string>{"all third"});
    CHECK_THROWS_AS(client.run_command("true", {.host_env = {{}, {}}}), pssh::HostArgumentError);
  }

  TEST_CASE_FIXTURE(EnvServer, "the ssh config's SetEnv and SendEnv reach the command; RunOptions::env wins") {
    rig::write_file(sshd.ssh_config(), "Host *\n"
                                       "  SetEnv PSSH_SET=from-setenv PSSH_BOTH=from-setenv\n"
                                       "  SendEnv PSSH_SENT_*\n");
    ::setenv("PSSH_SENT_ONE", "from-sendenv", 1);
    pssh::Client client("127.0.0.2", sshd.options());
    auto output = client.run_command("echo $PSSH_SET $PSSH_SENT_ONE $PSSH_BOTH",
                                     {.env = {{"PSSH_BOTH", "from-run"}}});
    client.wait_finished(output, 60s);
    ::unsetenv("PSSH_SENT_ONE");
    CHECK(lines(output.stdout_lines()) == std::vector<std::string>{"from-setenv from-sendenv from-run"});
    CHECK(output.exit_code() == 0);
  }

  TEST_CASE("SendEnv patterns pick local variables; \"-pattern\" drops patterns; the later source wins") {
    pssh::detail::HostSettings host;
    host.send_env = {"LC_*", "LANG", "SECRET_*", "-SECRET*", "PSSH_?"};
    host.set_env = {{"LANG", "C.UTF-8"}, {"PSSH_A", "setenv"}};
    const char* local[] = {"LC_ALL=de_DE", "LANG=en_US", "SECRET_TOKEN=x", "PSSH_A=local",
                           "PSSH_AB=too-long", "NOEQUALS", nullptr};
    auto env = pssh::detail::remote_environment(host, {{"PSSH_A", "run"}, {"EXTRA", "1"}}, local);
    CHECK(env == std::map<std::string, std::string>{
                     {"EXTRA", "1"}, {"LANG", "C.UTF-8"}, {"LC_ALL", "de_DE"}, {"PSSH_A", "run"}});
  }
}
