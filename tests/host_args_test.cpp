// Command templates and per-host arguments.
#include "common.hpp"

#include "config/command_text.hpp"

using pssh::detail::format_command;
using Map = std::map<std::string, std::string>;
using List = std::vector<std::string>;

TEST_SUITE("host_args") {
  TEST_CASE("positional, numbered and named substitution; braces escape") {
    CHECK(format_command("echo {} {}", pssh::HostArgs(List{"a", "b"}), "h") == "echo a b");
    CHECK(format_command("echo {1}{0}", pssh::HostArgs(List{"a", "b"}), "h") == "echo ba");
    CHECK(format_command("cp {src} {dst}", pssh::HostArgs(Map{{"src", "x"}, {"dst", "y"}}), "h") ==
          "cp x y");
    CHECK(format_command("awk '{{print $1}}' {}", pssh::HostArgs(List{"f"}), "h") ==
          "awk '{print $1}' f");
  }

  TEST_CASE("values are inserted verbatim; shell_quote makes them one word") {
    CHECK(format_command("echo {}", pssh::HostArgs(List{"$(id); rm"}), "h") == "echo $(id); rm");
    CHECK(pssh::shell_quote("a'b c") == "'a'\\''b c'");
  }

  TEST_CASE("missing values and malformed templates name the host and the key") {
    CHECK_THROWS_CONTAINING(format_command("{user}", pssh::HostArgs(Map{{"u", "x"}}), "web2"),
                            pssh::HostArgumentError,
                            "cannot build the command for web2: host_args has no value named 'user'");
    CHECK_THROWS_CONTAINING(format_command("{2}", pssh::HostArgs(List{"a"}), "web1"),
                            pssh::HostArgumentError, "positional argument 2");
    CHECK_THROWS_CONTAINING(format_command("{name}", pssh::HostArgs(List{"a"}), "web1"),
                            pssh::HostArgumentError, "give a map");
    CHECK_THROWS_CONTAINING(format_command("echo {", pssh::HostArgs(List{}), "h"),
                            pssh::HostArgumentError, "unclosed '{' at position 5");
    CHECK_THROWS_CONTAINING(format_command("echo }", pssh::HostArgs(List{}), "h"),
                            pssh::HostArgumentError, "single '}' at position 5");
  }

  TEST_CASE("Python's %s and %(name)s templates, as parallel-ssh's docs write them") {
    CHECK(format_command("%s", pssh::HostArgs(List{"host1_cmd"}), "h") == "host1_cmd");
    CHECK(format_command("%s %s", pssh::HostArgs(List{"host1_cmd1", "host1_cmd2"}), "h") ==
          "host1_cmd1 host1_cmd2");
    CHECK(format_command("%(cmd)s", pssh::HostArgs(Map{{"cmd", "host-index-0"}}), "h") == "host-index-0");
    CHECK(format_command("df -h %s | tr %% _", pssh::HostArgs(List{"/"}), "h") == "df -h / | tr % _");
    // A template with any brace is brace-style: its '%' stays.
    CHECK(format_command("printf '%s\\n' {}", pssh::HostArgs(List{"x"}), "h") == "printf '%s\\n' x");
    CHECK(format_command("printf '%d' 1; echo {{x}}", pssh::HostArgs(List{}), "h") == "printf '%d' 1; echo {x}");
    // A path takes {} fields only: a '%' in a file name is a '%'.
    CHECK(format_command("/var/log/app%1.log", pssh::HostArgs(List{"x"}), "h", pssh::detail::Fields::braces) ==
          "/var/log/app%1.log");
    // Never run literally: what Python cannot format is an error naming it.
    CHECK_THROWS_CONTAINING(format_command("date +%F %s", pssh::HostArgs(List{"x"}), "web1"),
                            pssh::HostArgumentError, "'%F' at position 6 is not %s or %(name)s");
    CHECK_THROWS_CONTAINING(format_command("%(cmd)s", pssh::HostArgs(List{"x"}), "web1"),
                            pssh::HostArgumentError, "host_args is a list; give a map");
    CHECK_THROWS_CONTAINING(format_command("%s", pssh::HostArgs(Map{{"cmd", "x"}}), "web1"),
                            pssh::HostArgumentError, "host_args is a map; write %(name)s");
    CHECK_THROWS_CONTAINING(format_command("%s %s", pssh::HostArgs(List{"x"}), "web1"),
                            pssh::HostArgumentError, "positional argument 1");
    CHECK_THROWS_CONTAINING(format_command("%(cmd", pssh::HostArgs(Map{{"cmd", "x"}}), "web1"),
                            pssh::HostArgumentError, "unclosed '%(' at position 0");
  }

  TEST_CASE("the docs' %s example runs on real hosts; a bad % template stops the run before any host") {
    auto options = server().options();
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, options);
    auto output = client.run_command("echo %s", {.host_args = {List{"host1_cmd"}, List{"host2_cmd"}}});
    client.join(output);
    CHECK(lines(output[0].stdout_lines()) == List{"host1_cmd"});
    CHECK(lines(output[1].stdout_lines()) == List{"host2_cmd"});
    std::atomic<int> events{0};
    options.on_event = [&](const pssh::Event&) { ++events; };
    pssh::ParallelClient refused({"127.0.0.2", "127.0.0.3"}, options);
    CHECK_THROWS_AS(refused.run_command("echo %d", {.host_args = {List{"1"}, List{"2"}}}),
                    pssh::HostArgumentError);
    CHECK(events == 0);
  }

  TEST_CASE("fewer host_args than hosts is refused before any host is touched") {
    std::atomic<int> events{0};
    auto options = server().options();
    options.on_event = [&](const pssh::Event&) { ++events; };
    pssh::ParallelClient client(rig::loopback_hosts(3), options);
    std::vector<pssh::HostArgs> args{List{"1"}, List{"2"}};
    CHECK_THROWS_CONTAINING(client.run_command("echo {}", {.host_args = args}),
                            pssh::HostArgumentError,
                            "host_args has 2 entries for 3 hosts; 127.0.0.4 (index 2) has none");
    CHECK(events == 0);
  }
}
