// Compiles the umbrella header alone and links the library as a consumer does.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <pssh/pssh.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <type_traits>
#include <vector>

// The headers' own examples compile: a braced list of commands is a list,
// not a string_view's (first, last). Compiled, never called.
void header_examples(pssh::ParallelClient& client, pssh::Shell& shell) {
  auto shells = client.open_shell();
  client.run_shell_commands(shells, {"cd /srv", "ls"});
  shell.run({"echo a", "echo b"});
}

// join's forms resolve without ambiguity: {} is the last run with default
// options; a braced list of hosts is an Output. Compiled, never called.
void join_forms(pssh::ParallelClient& client) {
  client.join({});
  client.join();
  client.join({.join_timeout = std::chrono::seconds(5), .consume_output = true});
  pssh::Output output = client.run_command("true");
  client.join(output);
  client.join(output, {});
  client.join({output[0]});
  client.join({output[0], output[1]}, {.join_timeout = std::chrono::seconds(5)});
}

// The options read as designated initializers, each timeout by its own name;
// ClientOptions and HostConfig take the same per-host fields. Compiled,
// never called.
void option_forms(const std::vector<std::string>& hosts) {
  using namespace std::chrono_literals;
  pssh::ParallelClient client(hosts, {.user = "deploy", .timeout = 10s});
  pssh::ParallelClient tuned(hosts, {.user = "deploy", .allow_agent = false, .timeout = 10s, .pool_size = 20},
                             {pssh::HostConfig{.alias = "db", .allow_agent = true, .timeout = 30s,
                                               .proxy = pssh::ProxyConfig{.host = "bastion"}}});
  auto output = client.run_command("uptime", {.read_timeout = 5s, .command_timeout = 60s});
  client.join(output, {.join_timeout = 90s});
}

// Only the client makes shells and transfers: a Shell wrapped around a
// command's output would end that command's stdin when destroyed.
static_assert(!std::is_constructible_v<pssh::Shell, pssh::HostOutput, std::string>);
static_assert(!std::is_constructible_v<pssh::Shell, pssh::HostOutput>);
static_assert(!std::is_constructible_v<pssh::Transfer, std::shared_ptr<pssh::HostState>>);
static_assert(std::is_move_constructible_v<pssh::Shell> && std::is_copy_constructible_v<pssh::Transfer>);

TEST_CASE("the public API is self-contained and checks its inputs") {
  CHECK(pssh::shell_quote("it's") == "'it'\\''s'");
  pssh::ClientOptions options;
  options.allow_agent = false;
  CHECK_THROWS_AS(pssh::ParallelClient({"a", "b"}, options, {pssh::HostConfig{}}),
                  pssh::HostArgumentError);
  options.pkey = pssh::PrivateKey::file("/nonexistent/key");
  CHECK_THROWS_AS(pssh::ParallelClient({"a"}, options), pssh::PKeyFileError);
}
