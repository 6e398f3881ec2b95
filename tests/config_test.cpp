// ~/.ssh/config: the parser, and a host reached only through its config.
#include "common.hpp"

#include "config/ssh_config.hpp"

#include <pssh/json.hpp>

using pssh::detail::lookup_ssh_config;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// The value `effective_ssh_options` gives for `keyword` ("" if none).
std::string effective(const std::string& host, const pssh::ClientOptions& options,
                      const std::string& keyword) {
  for (const auto& [key, value] : pssh::effective_ssh_options(host, options))
    if (key == keyword) return value;
  return "";
}

/// Options reading `text` as the user's config and no system config.
pssh::ClientOptions with_config(const rig::TempDir& dir, const std::string& text) {
  auto options = server().options();
  rig::write_file(dir.path() / "config", text);
  options.ssh_config = (dir.path() / "config").string();
  return options;
}

int run_true(const std::string& host, const pssh::ClientOptions& options) {
  pssh::Client client(host, options);
  auto output = client.run_command("true");
  client.wait_finished(output);
  if (output.exception()) std::rethrow_exception(output.exception());
  return *output.exit_code();
}

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("first value wins, patterns and negation select blocks") {
    const char* text =
        "# global\n"
        "Host web* !web3\n"
        "  HostName 10.0.0.1\n"
        "  Port 2222\n"
        "  IdentityFile ~/.ssh/web_key\n"
        "Host *\n"
        "  User=deploy\n"
        "  Port 22\n"
        "  IdentityFile \"~/.ssh/id %h\"\n"
        "  ProxyJump bastion\n"
        "  ForwardAgent yes\n"
        "  Compression yes\n"
        "  ServerAliveInterval 15\n"
        "Match host web1\n"
        "  User matched\n";
    auto web1 = lookup_ssh_config(text, "web1", "cfg").options;
    CHECK(web1.hostname == "10.0.0.1");
    CHECK(web1.port == 2222);
    CHECK(web1.user == "deploy");
    CHECK(web1.proxy_jump == "bastion");
    CHECK(web1.forward_agent == true);
    CHECK(web1.compression == true);
    CHECK(web1.server_alive_interval == 15);
    CHECK(web1.identity_files == std::vector<std::string>{"~/.ssh/web_key", "~/.ssh/id %h"});
    auto web3 = lookup_ssh_config(text, "web3", "cfg").options;
    CHECK_FALSE(web3.hostname.has_value());
    CHECK(web3.port == 22);
  }

  TEST_CASE("Match: all, host (after HostName) and originalhost, with lists and negation") {
    const char* text =
        "Host short\n"
        "  HostName long.example.com\n"
        "Match exec \"false\" host *\n"
        "  User from-exec\n"
        "Match host *.example.com,!db*\n"
        "  User by-hostname\n"
        "Match originalhost short !host nothing*\n"
        "  Port 2200\n"
        "Match !originalhost short\n"
        "  Port 2300\n"
        "Match all\n"
        "  User everyone\n";
    auto short_name = lookup_ssh_config(text, "short", "cfg").options;
    CHECK(short_name.user == "by-hostname");  // host is matched after HostName; exec exited 1
    CHECK(short_name.port == 2200);
    auto db = lookup_ssh_config(text, "db1.example.com", "cfg").options;
    CHECK(db.user == "everyone");  // !db* refused the hostname block
    CHECK(db.port == 2300);
  }

  TEST_CASE("a bad Port or ServerAliveInterval names the host, file and line") {
    CHECK_THROWS_CONTAINING(lookup_ssh_config("Host *\n Port http\n", "h", "/x/config"),
                            pssh::HostArgumentError,
                            "ssh config for h: /x/config line 2: port http: 'http' is not a port number");
    CHECK_THROWS_CONTAINING(lookup_ssh_config("ServerAliveInterval soon\n", "h", "/x/config"),
                            pssh::HostArgumentError, "/x/config line 1: serveraliveinterval soon: expected a time");
    // Checked in a block that does not apply too, as ssh(1) does.
    CHECK_THROWS_CONTAINING(lookup_ssh_config("Host other\n Port 22 23\n", "h", "/x/config"),
                            pssh::HostArgumentError, "takes exactly one argument");
    CHECK_THROWS_CONTAINING(lookup_ssh_config("Host h\n Porrt 22\n", "h", "/x/config"),
                            pssh::HostArgumentError, "'porrt' is not an OpenSSH client keyword");
    CHECK(lookup_ssh_config("IgnoreUnknown porrt\nHost h\n Porrt 22\n", "h", "c").options.port == std::nullopt);
  }

  TEST_CASE("Include: globs in order, only where its block matches, relative paths from ~/.ssh") {
    using pssh::detail::read_included_files;
    rig::TempDir dir;
    fs::create_directories(dir.path() / "conf.d");
    rig::write_file(dir.path() / "conf.d" / "10-web.conf", "Host web1\n  HostName 10.0.0.9\n");
    rig::write_file(dir.path() / "conf.d" / "20-all.conf", "Port 2201\nUser from-include\n");
    rig::write_file(dir.path() / "db.conf", "Port 2202\n");
    auto top = (dir.path() / "config").string();
    std::string text = "Host web*\n"
                       "  Include " + (dir.path() / "conf.d" / "*.conf").string() + "\n"
                       "  Port 2200\n"
                       "Host db1\n"
                       "  Include " + (dir.path() / "db.conf").string() + "\n";
    auto reader = [&](const std::string& pattern, bool system) { return read_included_files(pattern, system); };
    auto web1 = lookup_ssh_config(text, "web1", top, reader).options;
    CHECK(web1.hostname == "10.0.0.9");
    CHECK(web1.port == 2201);  // the included file came first
    CHECK(web1.user == "from-include");
    auto db1 = lookup_ssh_config(text, "db1", top, reader).options;
    CHECK(db1.port == 2202);
    CHECK_FALSE(db1.user.has_value());  // web*'s Include does not apply to db1
    CHECK_FALSE(lookup_ssh_config(text, "web1", top).options.hostname.has_value());  // no reader: ignored

    // A relative path is taken from ~/.ssh, as ssh(1) does for a user config.
    fs::path ssh_dir = fs::path(std::getenv("HOME")) / ".ssh";
    fs::create_directories(ssh_dir);
    rig::write_file(ssh_dir / "pssh-test-include.conf", "User relative\n");
    CHECK(lookup_ssh_config("Include pssh-test-include.conf\n", "h", top, reader).options.user == "relative");
    fs::remove(ssh_dir / "pssh-test-include.conf");

    // A client's config reads each Include once, however many hosts it resolves.
    rig::write_file(top, text);
    pssh::detail::SshConfigFile file(top, std::nullopt);
    auto lookup = [&](const std::string& host) { return file.lookup(host, host, {}).options; };
    CHECK(lookup("web1").hostname == "10.0.0.9");
    fs::remove(dir.path() / "conf.d" / "10-web.conf");
    CHECK(lookup("web2.example").port == 2201);
    CHECK(lookup("web1").hostname == "10.0.0.9");  // kept from the first read

    rig::write_file(dir.path() / "loop.conf", "Include " + (dir.path() / "loop.conf").string() + "\n");
    CHECK_THROWS_CONTAINING(lookup_ssh_config("Include " + (dir.path() / "loop.conf").string() + "\n",
                                              "h", top, reader),
                            pssh::HostArgumentError, "loop.conf line 1: Include nests more than 16 files deep");
  }

  TEST_CASE("algorithm lists, UserKnownHostsFile, StrictHostKeyChecking and ConnectionAttempts") {
    rig::TempDir dir;
    auto known = dir.path() / "known";
    auto config = dir.path() / "config";
    rig::write_file(config, "Host 127.0.0.2\n"
                            "  KexAlgorithms curve25519-sha256\n  Ciphers aes128-ctr\n"
                            "  MACs hmac-sha2-256\n  HostKeyAlgorithms ssh-ed25519\n"
                            "Host 127.0.0.3\n  Ciphers no-such-cipher\n"
                            "Host 127.0.0.4\n  StrictHostKeyChecking yes\n"
                            "Host *\n  UserKnownHostsFile " + known.string() + "\n  ConnectionAttempts 1\n");
    auto entry = lookup_ssh_config(rig::read_file(config), "127.0.0.2", config.string()).options;
    CHECK(entry.ciphers == "aes128-ctr");
    CHECK(entry.connection_attempts == 1);
    CHECK(entry.strict_host_key_checking == std::nullopt);
    CHECK(lookup_ssh_config(rig::read_file(config), "127.0.0.4", "cfg").options.strict_host_key_checking ==
          pssh::HostKeyPolicy::strict);

    auto options = server().options();
    options.known_hosts.reset();  // unset: the config's file applies
    options.ssh_config = config.string();
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3", "127.0.0.4"}, options);
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    CHECK(output[0].exit_code() == 0);
    CHECK(rig::read_file(known).find("127.0.0.2") != std::string::npos);  // accept_new wrote there
    REQUIRE(host_error_is<pssh::HostArgumentError>(output[1]));
    CHECK(error_message(output[1]).find("Ciphers 'no-such-cipher'") != std::string::npos);
    REQUIRE(host_error_is<pssh::HostKeyError>(output[2]));  // strict: 127.0.0.4 is not known
    CHECK_THROWS_CONTAINING(lookup_ssh_config("StrictHostKeyChecking maybe\n", "h", "/x/config"),
                            pssh::HostArgumentError, "/x/config line 1: stricthostkeychecking maybe: expected");
  }

  TEST_CASE("HostName, Port, User and IdentityFile from the config reach the host") {
    rig::TempDir dir;
    auto config = dir.path() / "config";
    // The host's block is in an included file.
    rig::write_file(config, "Include " + (dir.path() / "hosts.conf").string() + "\n");
    rig::write_file(dir.path() / "hosts.conf",
                    "Host db-alias\n  HostName 127.0.0.7\n  Port " + std::to_string(server().port()) +
                        "\n  User root\n  IdentityFile " + server().user_key().string() + "\n");
    auto options = server().options();
    options.pkey.reset();
    options.port.reset();  // unset: the config's Port applies
    options.user.reset();
    options.identity_auth = true;
    options.ssh_config = config.string();
    pssh::Client client("db-alias", options);
    auto output = client.run_command("echo $USER $SSH_CONNECTION");
    auto out = lines(output.stdout_lines());
    REQUIRE(out.size() == 1);
    CHECK(out[0].rfind("root ", 0) == 0);
    CHECK(out[0].find("127.0.0.7 " + std::to_string(server().port())) != std::string::npos);
  }

  TEST_CASE("a set option beats the config whatever its value: port 22 over Port 2222") {
    rig::TempDir dir;
    pssh::ClientOptions options;
    options.system_ssh_config.reset();
    rig::write_file(dir.path() / "config", "Host *\n  Port 2222\n  User config-user\n  Compression yes\n");
    options.ssh_config = (dir.path() / "config").string();
    CHECK(effective("h", options, "port") == "2222");
    options.port = 22;
    options.compress = false;
    CHECK(effective("h", options, "port") == "22");
    CHECK(effective("h", options, "compression") == "no");
    CHECK(effective("h", options, "user") == "config-user");
    pssh::HostConfig host;
    host.user = "host-user";
    for (const auto& [key, value] : pssh::effective_ssh_options("h", options, host))
      if (key == "user") CHECK(value == "host-user");
  }

  TEST_CASE("StrictHostKeyChecking no means ignore through -x, PSSH_OPTIONS, JSON and the config") {
    pssh::ClientOptions options;
    pssh::apply_ssh_option(options, "StrictHostKeyChecking=no");
    CHECK(options.host_key_policy == pssh::HostKeyPolicy::ignore);
    CHECK(lookup_ssh_config("StrictHostKeyChecking no\n", "h", "cfg").options.strict_host_key_checking ==
          pssh::HostKeyPolicy::ignore);
    ::setenv("PSSH_OPTIONS", "StrictHostKeyChecking=no Port=2200", 1);
    auto from_env = pssh::ClientOptions::from_env();
    ::unsetenv("PSSH_OPTIONS");
    CHECK(from_env.host_key_policy == pssh::HostKeyPolicy::ignore);
    CHECK(from_env.port == 2200);
    auto inventory = pssh::inventory_from_json(nlohmann::json::parse(
        R"({"defaults": {"ssh_options": ["StrictHostKeyChecking no"]},
            "hosts": [{"host": "h", "ssh_options": ["StrictHostKeyChecking=accept-new", "Port 2201"]}]})"));
    CHECK(inventory.defaults.host_key_policy == pssh::HostKeyPolicy::ignore);
    CHECK(inventory.host_config[0].host_key_policy == pssh::HostKeyPolicy::accept_new);
    CHECK(inventory.host_config[0].port == 2201);
    CHECK_THROWS_CONTAINING(pssh::apply_ssh_option(options, "StrictHostKeyChecking=maybe"),
                            pssh::ConfigError, "expected yes, ask, accept-new or no");
    CHECK_THROWS_CONTAINING(pssh::apply_ssh_option(options, "BindAddress=10.0.0.1"),
                            pssh::ConfigError, "pssh cannot honour this");
    CHECK_THROWS_CONTAINING(pssh::apply_ssh_option(options, "Ciphers=aes128-ctr"), pssh::ConfigError,
                            "set it in an ssh config file");
    pssh::apply_ssh_option(options, "LogLevel=ERROR");  // ignored, as in a config
  }

  TEST_CASE("a keyword that would change the route is that host's error, naming file, line and fix") {
    rig::TempDir dir;
    auto options = with_config(dir, "Host 127.0.0.3\n  BindAddress 10.9.9.9\n"
                                    "Host 127.0.0.4\n  CanonicalizeHostname yes\n"
                                    "Host *\n  CanonicalizeHostname no\n");
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3", "127.0.0.4"}, options);
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    CHECK(output[0].exit_code() == 0);
    REQUIRE(host_error_is<pssh::HostArgumentError>(output[1]));
    std::string config = (dir.path() / "config").string();
    CHECK(error_message(output[1]) ==
          "ssh config for 127.0.0.3: " + config + " line 2: bindaddress 10.9.9.9: pssh cannot honour this "
          "(it would change the route, the identity or host-key checking); remove BindAddress for the "
          "hosts pssh reaches");
    REQUIRE(host_error_is<pssh::HostArgumentError>(output[2]));
    CHECK(error_message(output[2]).find(config + " line 4: canonicalizehostname yes") != std::string::npos);
    CHECK_THROWS_CONTAINING(pssh::effective_ssh_options("127.0.0.3", options), pssh::HostArgumentError,
                            "line 2: bindaddress");
  }

  TEST_CASE("Match exec: a hanging command is killed at the host's timeout") {
    rig::TempDir dir;
    auto options = with_config(dir, "Match exec \"sleep 30\"\n  User never\n");
    options.timeout = 1s;
    within(20s, [&] {
      auto start = std::chrono::steady_clock::now();
      CHECK_THROWS_CONTAINING(pssh::effective_ssh_options("h", options), pssh::HostArgumentError,
                              "Match exec 'sleep 30' did not finish within 1 s and was killed");
      CHECK(seconds_since(start) < 3 * slowdown);
      pssh::ParallelClient client({"127.0.0.2"}, options);
      auto output = client.run_command("true", {.stop_on_errors = false});
      client.join(output);
      CHECK(host_error_is<pssh::HostArgumentError>(output[0]));
      CHECK(seconds_since(start) < 6 * slowdown);
    });
  }

  TEST_CASE("Match user sees the user set so far; a system config comes after the user's") {
    rig::TempDir dir;
    auto options = with_config(dir, "Host h\n  User alice\nMatch user alice\n  Port 2001\n");
    rig::write_file(dir.path() / "system", "Host *\n  Port 2002\n  User system\n  Compression yes\n");
    options.system_ssh_config = (dir.path() / "system").string();
    options.user.reset();
    options.port.reset();
    CHECK(effective("h", options, "port") == "2001");
    CHECK(effective("h", options, "compression") == "yes");  // from the system file
    CHECK(effective("other", options, "user") == "system");
    options.user = "bob";  // explicit: Match user sees it
    CHECK(effective("h", options, "port") == "2002");
  }

  TEST_CASE("HostKeyAlias names the host in known_hosts, recorded and then checked") {
    rig::TempDir dir;
    auto options = with_config(dir, "Host 127.0.0.5\n  HostKeyAlias Fleet-Key\n");
    options.known_hosts = (dir.path() / "known_hosts").string();
    CHECK(run_true("127.0.0.5", options) == 0);
    std::string known = rig::read_file(dir.path() / "known_hosts");
    CHECK(known.rfind("fleet-key ", 0) == 0);  // no address, no port: the alias alone
    CHECK(known.find("127.0.0.5") == std::string::npos);
    options.host_key_policy = pssh::HostKeyPolicy::strict;
    CHECK(run_true("127.0.0.5", options) == 0);  // found under the alias
    CHECK_THROWS_AS(run_true("127.0.0.6", options), pssh::HostKeyError);  // no alias: unknown
  }

  TEST_CASE("IdentityAgent picks the agent (none: no agent); IdentitiesOnly keeps to the key files") {
    rig::Agent agent;
    agent.add(server().user_key());
    rig::TempDir dir;
    auto options = with_config(dir, "Host 127.0.0.2\n  IdentityAgent " + agent.socket() + "\n"
                                    "Host 127.0.0.3\n  IdentityAgent none\n"
                                    "Host 127.0.0.4\n  IdentityAgent " + agent.socket() + "\n  IdentitiesOnly yes\n"
                                    "Host 127.0.0.5\n  IdentityAgent $PSSH_TEST_AGENT\n");
    options.pkey.reset();
    options.allow_agent = true;
    ::setenv("PSSH_TEST_AGENT", agent.socket().c_str(), 1);  // SSH_AUTH_SOCK stays unset
    CHECK(run_true("127.0.0.2", options) == 0);
    CHECK(run_true("127.0.0.5", options) == 0);
    CHECK_THROWS_AS(run_true("127.0.0.3", options), pssh::AuthenticationError);
    CHECK_THROWS_AS(run_true("127.0.0.4", options), pssh::AuthenticationError);
    options.identity_auth = true;  // the key file itself, under IdentitiesOnly
    rig::write_file(dir.path() / "config", "Host 127.0.0.4\n  IdentityAgent " + agent.socket() +
                                               "\n  IdentitiesOnly yes\n  IdentityFile " +
                                               server().user_key().string() + "\n");
    CHECK(run_true("127.0.0.4", options) == 0);
    ::unsetenv("PSSH_TEST_AGENT");
  }

  TEST_CASE("ConnectTimeout limits the connect and handshake, not the other steps") {
    rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
    rig::TempDir dir;
    auto options = with_config(dir, "Host *\n  ConnectTimeout 1\n");
    options.port = blackhole.port();
    options.timeout = 30s;
    within(20s, [&] {
      auto start = std::chrono::steady_clock::now();
      CHECK_THROWS_CONTAINING(run_true("127.0.0.1", options), pssh::Timeout,
                              "timed out after 1 s (connect_timeout)");
      CHECK(seconds_since(start) < 4 * slowdown);
    });
    options.port = server().port();
    CHECK(run_true("127.0.0.2", options) == 0);
  }
}
