// For sequential programs: host ranges and hosts files, endpoints, the
// environment, call/copy/slurp.
#include "common.hpp"

#include "config/endpoint.hpp"
#include "config/ssh_config.hpp"

#include <pssh/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <random>
#include <set>
#include <filesystem>
#include <typeindex>

namespace fs = std::filesystem;

namespace {

/// What `call` threw: its exact type and its message.
struct Thrown {
  std::type_index type = typeid(void);
  std::string message;
};

template <class Call>
Thrown thrown(Call call) {
  try {
    call();
  } catch (const std::exception& e) {
    return {typeid(e), e.what()};
  }
  return {};
}

}  // namespace

TEST_SUITE("helpers") {
  TEST_CASE("host ranges expand, keep zero padding, multiply, and leave IPv6 brackets alone") {
    CHECK(pssh::expand_hosts("web[01-03].example.com") ==
          std::vector<std::string>{"web01.example.com", "web02.example.com", "web03.example.com"});
    CHECK(pssh::expand_hosts("10.0.0.[1-3,9]") ==
          std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"});
    CHECK(pssh::expand_hosts("r[1-2]n[8-9]") == std::vector<std::string>{"r1n8", "r1n9", "r2n8", "r2n9"});
    CHECK(pssh::expand_hosts("[::1]") == std::vector<std::string>{"[::1]"});
    CHECK(pssh::expand_hosts("plain") == std::vector<std::string>{"plain"});
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("h[5-1]"), pssh::ConfigError, "5-1 runs backwards");
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("h[1-,3]"), pssh::ConfigError, "is not a number");
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("h[0-99999]x[0-9]"), pssh::ConfigError,
                            "more than 100000 hosts");
  }

  TEST_CASE("commas outside brackets separate patterns; an empty one is an error") {
    CHECK(pssh::expand_hosts("web[1-2],db1,10.0.0.[8-9]") ==
          std::vector<std::string>{"web1", "web2", "db1", "10.0.0.8", "10.0.0.9"});
    CHECK(pssh::expand_hosts("[::1],[fe80::1]") == std::vector<std::string>{"[::1]", "[fe80::1]"});
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("web1,,web2"), pssh::ConfigError,
                            "'web1,,web2' has an empty entry");
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("a[0-60000],b[0-60000]"), pssh::ConfigError,
                            "more than 100000 hosts");
  }

  TEST_CASE("fold_hosts folds as clush does: padding, several fields, IPv4, IPv6 kept whole") {
    CHECK(pssh::fold_hosts({"web01", "web02", "web03", "web07", "db1"}) == "db1,web[01-03,07]");
    CHECK(pssh::fold_hosts({"r1n1", "r1n2", "r2n1", "r2n2", "r3n2"}) == "r3n2,r[1-2]n[1-2]");
    CHECK(pssh::fold_hosts({"10.0.1.1", "10.0.1.2", "10.0.2.1", "10.0.2.2"}) == "10.0.[1-2].[1-2]");
    CHECK(pssh::fold_hosts({"n8", "n9", "n10", "n09", "n010"}) == "n[8-10,09,010]");
    CHECK(pssh::fold_hosts({"::1", "::2", "[::1]", "plain", "plain"}) == "::[1-2],[::1],plain");
    CHECK(pssh::fold_hosts({"h1234567890", "h1234567891"}) == "h1234567890,h1234567891");
    CHECK(pssh::fold_hosts({}) == "");
  }

  TEST_CASE("property: expand_hosts(fold_hosts(x)) is x as a set") {
    std::mt19937 random(20261130);
    auto number = [&](int below) { return static_cast<int>(random() % below); };
    auto padded = [&](int value, int width) {
      std::string text = std::to_string(value);
      return std::string(std::max<int>(0, width - static_cast<int>(text.size())), '0') + text;
    };
    std::vector<std::function<std::string()>> shapes{
        [&] { return "web" + padded(number(120), number(4)) + ".example.com"; },
        [&] { return "r" + std::to_string(number(4)) + "n" + padded(number(30), 2) + "-" + std::to_string(number(3)); },
        [&] { return "10." + std::to_string(number(3)) + "." + std::to_string(number(4)) + "." + std::to_string(number(256)); },
        [&] { return "fe80::" + std::to_string(number(3)) + ":" + padded(number(20), number(3)); },
        [&] { return "[2001:db8::" + std::to_string(number(9)) + "]"; },
        [&] { return std::string(number(2) ? "db" : "cache") + std::to_string(number(12)); },
        [&] { return std::string("plain"); },
    };
    for (int round = 0; round < 300; ++round) {
      std::set<std::string> hosts;
      int count = 1 + number(round < 250 ? 40 : 2000);
      for (int i = 0; i < count; ++i) hosts.insert(shapes[number(static_cast<int>(shapes.size()))]());
      std::vector<std::string> given(hosts.begin(), hosts.end());
      std::shuffle(given.begin(), given.end(), random);
      std::string folded = pssh::fold_hosts(given);
      INFO("folded: " << folded);
      auto expanded = pssh::expand_hosts(folded);
      CHECK(expanded.size() == hosts.size());
      CHECK(std::set<std::string>(expanded.begin(), expanded.end()) == hosts);
    }
  }

  TEST_CASE("host entries and hosts files: user, port, IPv6, comments, ranges") {
    auto v6 = pssh::parse_host_entry("ops@[::1]:2222");
    REQUIRE(v6.size() == 1);
    CHECK(v6[0].host == "[::1]");
    CHECK(v6[0].config.user == "ops");
    CHECK(v6[0].config.port == 2222);
    CHECK(pssh::parse_host_entry("::1")[0].host == "::1");
    CHECK_THROWS_CONTAINING(pssh::parse_host_entry("web:http"), pssh::ConfigError,
                            "'http' is not a port");
    rig::TempDir dir;
    auto file = dir.path() / "hosts";
    rig::write_file(file, "# fleet\nweb[1-2]:2200\n\n  db1 admin  # primary\n");
    auto entries = pssh::read_hosts_file(file.string());
    REQUIRE(entries.size() == 3);
    CHECK(entries[1].host == "web2");
    CHECK(entries[1].config.port == 2200);
    CHECK(entries[2].host == "db1");
    CHECK(entries[2].config.user == "admin");
    rig::write_file(file, "ok\nbad:0\n");
    CHECK_THROWS_CONTAINING(pssh::read_hosts_file(file.string()), pssh::ConfigError,
                            file.string() + " line 2");
  }

  TEST_CASE("format_host_entry writes what read_hosts_file reads back: user, port, IPv6, alias") {
    std::vector<pssh::HostEntry> entries{
        {"web1", {}},
        {"db1", {.alias = "primary", .user = "ops", .port = 2222}},
        {"::1", {.port = 2200}},
        {"fe80::1", {.user = "root"}},
        {"[::1]", {.alias = "[::1]", .port = 22}},
    };
    rig::TempDir dir;
    std::string text;
    for (const auto& e : entries) text += pssh::format_host_entry(e) + '\n';
    CHECK(text == "web1\nops@db1:2222 alias=primary\n[::1]:2200\nroot@fe80::1\n[::1]:22\n");
    rig::write_file(dir.path() / "hosts", text);
    auto back = pssh::read_hosts_file((dir.path() / "hosts").string());
    REQUIRE(back.size() == entries.size());
    CHECK(back[1].host == "db1");
    CHECK(back[1].config.user == "ops");
    CHECK(back[1].config.port == 2222);
    CHECK(back[1].config.alias == "primary");
    CHECK(back[2].host == "[::1]");
    CHECK(back[2].config.port == 2200);
    CHECK(back[3].host == "fe80::1");
    CHECK(back[3].config.user == "root");
    CHECK(!back[0].config.user);
    CHECK_THROWS_CONTAINING(pssh::format_host_entry({"db1", {.alias = "my db"}}), pssh::ConfigError,
                            "alias 'my db' cannot be written to a hosts file");
  }

  TEST_CASE("parse_endpoint reads every [user@]host[:port] form") {
    using pssh::detail::parse_endpoint;
    struct Good {
      const char* text;
      std::optional<std::string> user;
      std::string host;
      std::optional<int> port;
    };
    const Good good[] = {
        {"web1", {}, "web1", {}},
        {"ops@web1", "ops", "web1", {}},
        {"web1:2222", {}, "web1", 2222},
        {"ops@web1:2222", "ops", "web1", 2222},
        {"[::1]", {}, "[::1]", {}},  // the brackets come off where the address is used
        {"[::1]:2222", {}, "[::1]", 2222},
        {"ops@[::1]:2222", "ops", "[::1]", 2222},
        {"::1", {}, "::1", {}},  // several colons: a bare address, no port
        {"fe80::1%eth0", {}, "fe80::1%eth0", {}},
        {"ssh://ops@jump:2222", "ops", "jump", 2222},
        {"ssh://jump/", {}, "jump", {}},
        {"ssh://ops@[::1]:22", "ops", "[::1]", 22},
        {"ad@corp@web1", "ad@corp", "web1", {}},    // the last '@' ends the user, as ssh(1)
        {"web[01-03]:22", {}, "web[01-03]", 22},  // ranges are the host list's
        {"[1-2].example:22", {}, "[1-2].example", 22},
        {"web1:0022", {}, "web1", 22},
        {"web1:65535", {}, "web1", 65535},
    };
    for (const auto& g : good) {
      INFO(g.text);
      auto endpoint = parse_endpoint(g.text);
      CHECK(endpoint.user == g.user);
      CHECK(endpoint.host == g.host);
      CHECK(endpoint.port == g.port);
    }
    const std::pair<const char*, const char*> bad[] = {
        {"", "'': there is no host; write [user@]host[:port]"},
        {"ops@", "'ops@': there is no host; write [user@]host[:port]"},
        {":22", "':22': there is no host; write [user@]host[:port]"},
        {"web:http", "'web:http': 'http' is not a port number (1-65535); write [user@]host[:port]"},
        {"web:", "'web:': '' is not a port number (1-65535); write [user@]host[:port]"},
        {"web:0", "'web:0': '0' is not a port number (1-65535); write [user@]host[:port]"},
        {"web:65536", "'web:65536': '65536' is not a port number (1-65535); write [user@]host[:port]"},
        {"web:-1", "'web:-1': '-1' is not a port number (1-65535); write [user@]host[:port]"},
        {"web:+22", "'web:+22': '+22' is not a port number (1-65535); write [user@]host[:port]"},
        {"[::1]:", "'[::1]:': '' is not a port number (1-65535); write [user@]host[:port]"},
        {"@web", "'@web': the user before '@' is empty; write user@host, or the host alone"},
        {"[::1", "'[::1': the '[' has no ']'; write [v6] or [v6]:port"},
        {"[::1]2222", "'[::1]2222': only ':port' may follow the ']'; write [v6]:port"},
        {"a, b", "'a, b': white space or a control character in it; write [user@]host[:port]"},
        {"web\n", "'web?': white space or a control character in it; write [user@]host[:port]"},
        {"ssh://web/x", "'ssh://web/x': an ssh:// URI has no path; write ssh://[user@]host[:port]"},
        {"ssh://@web", "'ssh://@web': the user before '@' is empty; write user@host, or the host alone"},
        {"ssh://ops;fp=x@web", "'ssh://ops;fp=x@web': ';' parameters and '%' escapes in an ssh:// user "
                               "are not supported; write the user plainly"},
    };
    for (const auto& [text, message] : bad) {
      INFO(text);
      auto error = thrown([&] { parse_endpoint(text); });
      CHECK(error.type == typeid(pssh::HostArgumentError));
      CHECK(error.message == message);
    }
    CHECK(pssh::detail::parse_port("2222") == 2222);
    auto error = thrown([] { pssh::detail::parse_port("22.5"); });
    CHECK(error.type == typeid(pssh::HostArgumentError));
    CHECK(error.message == "'22.5' is not a port number (1-65535)");
  }

  TEST_CASE("a bad endpoint says the same wherever it is written, after where it was written") {
    rig::TempDir dir;
    auto hosts_file = dir.path() / "hosts";
    pssh::ClientOptions options;
    auto json_error = [](const std::string& text) {
      return thrown([&] { pssh::inventory_from_json(nlohmann::json::parse(text)); });
    };
    for (std::string bad : {"web:http", "@web", "[::1]x", "ops@", "ssh://web/x"}) {
      INFO(bad);
      const std::string core = thrown([&] { pssh::detail::parse_endpoint(bad); }).message;
      auto expect = [&](const Thrown& error, std::type_index type, const std::string& context) {
        CHECK(error.type == type);
        CHECK(error.message == context + core);
      };
      // Host lists: -H, hosts files, PSSH_HOSTS, inventories (their documented pssh::ConfigError).
      expect(thrown([&] { pssh::parse_host_entry(bad); }), typeid(pssh::ConfigError), "host entry ");
      rig::write_file(hosts_file, "web1\n" + bad + " # second\n");
      expect(thrown([&] { pssh::read_hosts_file(hosts_file.string()); }), typeid(pssh::ConfigError),
             hosts_file.string() + " line 2: host entry ");
      expect(json_error(R"({"hosts": [")" + bad + R"("]})"), typeid(pssh::JsonError), "hosts[0]: host entry ");
      // ProxyJump: the ssh config (a host's HostArgumentError), its hops, -x/-o, PSSH_OPTIONS, JSON.
      auto in_config = thrown([&] {
        pssh::detail::lookup_ssh_config("Host h\n  ProxyJump " + bad + "\n", "h", "/x/config");
      });
      expect(in_config, typeid(pssh::HostArgumentError),
             "ssh config for h: /x/config line 2: proxyjump " + bad + ": ");
      expect(thrown([&] { pssh::detail::parse_proxy_jump("jump1," + bad, "h", "cfg"); }),
             typeid(pssh::HostArgumentError), "cfg: ProxyJump ");
      std::string option = "ProxyJump=" + bad;
      std::string as_option = "ssh option '" + option + "': proxyjump " + bad + ": ";
      expect(thrown([&] { pssh::apply_ssh_option(options, option); }), typeid(pssh::ConfigError), as_option);
      ::setenv("PSSH_OPTIONS", option.c_str(), 1);
      expect(thrown([] { pssh::ClientOptions::from_env(); }), typeid(pssh::ConfigError),
             "PSSH_OPTIONS: " + as_option);
      ::unsetenv("PSSH_OPTIONS");
      expect(json_error(R"({"defaults": {"ssh_options": [")" + option + R"("]}, "hosts": []})"),
             typeid(pssh::JsonError), "defaults.ssh_options[0]: " + as_option);
    }
    // A port: a host entry's and the Port keyword's say the same.
    const std::string port_core = thrown([] { pssh::detail::parse_port("http"); }).message;
    CHECK(thrown([] { pssh::parse_host_entry("web:http"); }).message ==
          "host entry 'web:http': " + port_core + "; write [user@]host[:port]");
    CHECK(thrown([&] { pssh::apply_ssh_option(options, "Port=http"); }).message ==
          "ssh option 'Port=http': port http: " + port_core);
    auto in_config = thrown([] { pssh::detail::lookup_ssh_config("Port http\n", "h", "/x/config"); });
    CHECK(in_config.type == typeid(pssh::HostArgumentError));
    CHECK(in_config.message == "ssh config for h: /x/config line 1: port http: " + port_core);
  }

  TEST_CASE("the environment sets options; a bad value names the variable") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "hosts", "h[1-2]\n");
    ::setenv("PSSH_USER", "deploy", 1);
    ::setenv("PSSH_PAR", "7", 1);
    ::setenv("PSSH_TIMEOUT", "2.5", 1);
    ::setenv("PSSH_OPTIONS", "Port=2222 StrictHostKeyChecking=no ServerAliveInterval=10", 1);
    ::setenv("PSSH_HOSTS", (dir.path() / "hosts").c_str(), 1);
    ::setenv("PSSH_OUTDIR", "/tmp/out", 1);
    ::setenv("PSSH_VERBOSE", "yes", 1);
    auto options = pssh::ClientOptions::from_env();
    CHECK(options.user == "deploy");
    CHECK(options.pool_size == 7);
    // PSSH_TIMEOUT means what it means to pssh's -t: the command's timeout,
    // not the step timeout.
    CHECK(!options.timeout);
    CHECK(options.port == 2222);
    CHECK(options.host_key_policy == pssh::HostKeyPolicy::ignore);
    CHECK(options.keepalive == std::chrono::seconds(10));
    auto env = pssh::read_environment();
    CHECK(env.command_timeout == std::chrono::milliseconds(2500));
    CHECK(!env.options.timeout);
    CHECK(env.hosts.size() == 2);
    CHECK(env.outdir == "/tmp/out");
    CHECK(env.verbose);

    ::setenv("PSSH_PAR", "many", 1);
    CHECK_THROWS_CONTAINING(pssh::ClientOptions::from_env(), pssh::ConfigError,
                            "PSSH_PAR='many': expected a positive whole number");
    ::setenv("PSSH_PAR", "7", 1);
    ::setenv("PSSH_TIMEOUT", "soon", 1);
    CHECK_THROWS_CONTAINING(pssh::read_environment(), pssh::ConfigError,
                            "PSSH_TIMEOUT='soon': expected a positive number of seconds");
    ::setenv("PSSH_TIMEOUT", "2.5", 1);
    ::setenv("PSSH_OPTIONS", "Ciphers=aes128-ctr", 1);
    CHECK_THROWS_CONTAINING(pssh::ClientOptions::from_env(), pssh::ConfigError,
                            "PSSH_OPTIONS: ssh option 'Ciphers=aes128-ctr': pssh has no option field for it");
    for (const char* name : {"PSSH_USER", "PSSH_PAR", "PSSH_TIMEOUT", "PSSH_OPTIONS", "PSSH_HOSTS",
                             "PSSH_OUTDIR", "PSSH_VERBOSE"})
      ::unsetenv(name);
  }

  TEST_CASE("call gives every host's output, exit code or error, and never throws for one host") {
    auto options = server().options();
    std::vector<pssh::HostConfig> config(3);
    config[2].port = rig::refused_port();
    auto results = pssh::call({"127.0.0.2", "127.0.0.3", "127.0.0.4"},
                              "echo out-$(hostname -I >/dev/null; echo x); echo err >&2; exit 3",
                              options, {}, config);
    REQUIRE(results.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(results[i].index == i);  // the host list's order
      CHECK(results[i].host == "127.0.0." + std::to_string(i + 2));
    }
    CHECK(results[0].out == "out-x\n");
    CHECK(results[0].err == "err\n");
    CHECK(results[0].exit_code == 3);
    CHECK_FALSE(results[0].ok());
    CHECK(pssh::error_kind(results[2].error) == pssh::ErrorKind::connection);
    CHECK(results[2].error_message().find("cannot connect") != std::string::npos);
  }

  TEST_CASE("call keeps a repeated host apart, and an alias names its result") {
    auto options = server().options();
    std::vector<pssh::HostConfig> config(3);
    config[1].alias = "second";
    config[2].port = rig::refused_port();
    auto repeated = pssh::call({"127.0.0.2", "127.0.0.2", "127.0.0.2"}, "exit 4",
                               options, {}, config);
    REQUIRE(repeated.size() == 3);
    CHECK(repeated[0].host == "127.0.0.2");
    CHECK(repeated[1].host == "second");
    CHECK(repeated[2].host == "127.0.0.2");
    CHECK(repeated[0].exit_code == 4);
    CHECK(repeated[1].exit_code == 4);
    CHECK(pssh::error_kind(repeated[2].error) == pssh::ErrorKind::connection);
  }

  TEST_CASE("copy sends a file to every host; slurp brings it back into a folder per host") {
    rig::TempDir dir;
    auto local = dir.path() / "app.conf";
    rig::write_file(local, "setting=1\n");
    // A '%' and braces in a name are the name's (slurp fills its own {dir}).
    auto remote = (dir.path() / "remote" / "app%s{1}.conf").string();
    auto options = server().options();
    std::vector<std::string> hosts{"127.0.0.2", "127.0.0.3"};
    // Every loopback host is the same machine: give each its own remote path.
    auto sent = pssh::copy(hosts, local.string(), remote, options);
    REQUIRE(sent.size() == 2);
    for (const auto& r : sent) CHECK_MESSAGE(r.ok(), r.host << ": " << r.error_message());
    auto fetched = pssh::slurp(hosts, remote, (dir.path() / "fetched").string(), options);
    REQUIRE(fetched.size() == 2);
    for (std::size_t i = 0; i < fetched.size(); ++i) {
      const auto& r = fetched[i];
      INFO(r.host << ": " << r.error_message());
      CHECK(r.host == hosts[i]);
      CHECK(r.ok());
      CHECK(rig::read_file(dir.path() / "fetched" / r.host / "app%s{1}.conf") == "setting=1\n");
    }
    auto missing = pssh::slurp({"127.0.0.2"}, "/no/such/file", (dir.path() / "x").string(), options);
    REQUIRE(missing.size() == 1);
    CHECK(pssh::error_kind(missing[0].error) == pssh::ErrorKind::sftp_io);
    CHECK(missing[0].error_message().find("/no/such/file") != std::string::npos);
  }
}
