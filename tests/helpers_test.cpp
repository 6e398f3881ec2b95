// For sequential programs: host ranges and hosts files, the environment,
// call/copy/slurp.
#include "common.hpp"

#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

TEST_SUITE("helpers") {
  TEST_CASE("host ranges expand, keep zero padding, multiply, and leave IPv6 brackets alone") {
    CHECK(pssh::expand_hosts("web[01-03].example.com") ==
          std::vector<std::string>{"web01.example.com", "web02.example.com", "web03.example.com"});
    CHECK(pssh::expand_hosts("10.0.0.[1-3,9]") ==
          std::vector<std::string>{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"});
    CHECK(pssh::expand_hosts("r[1-2]n[8-9]") == std::vector<std::string>{"r1n8", "r1n9", "r2n8", "r2n9"});
    CHECK(pssh::expand_hosts("[::1]") == std::vector<std::string>{"[::1]"});
    CHECK(pssh::expand_hosts("plain") == std::vector<std::string>{"plain"});
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("h[5-1]"), std::invalid_argument, "5-1 runs backwards");
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("h[1-,3]"), std::invalid_argument, "is not a number");
    CHECK_THROWS_CONTAINING(pssh::expand_hosts("h[0-99999]x[0-9]"), std::invalid_argument,
                            "more than 100000 hosts");
  }

  TEST_CASE("host entries and hosts files: user, port, IPv6, comments, ranges") {
    auto v6 = pssh::parse_host_entry("ops@[::1]:2222");
    REQUIRE(v6.size() == 1);
    CHECK(v6[0].host == "[::1]");
    CHECK(v6[0].config.user == "ops");
    CHECK(v6[0].config.port == 2222);
    CHECK(pssh::parse_host_entry("::1")[0].host == "::1");
    CHECK_THROWS_CONTAINING(pssh::parse_host_entry("web:http"), std::invalid_argument,
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
    CHECK_THROWS_CONTAINING(pssh::read_hosts_file(file.string()), std::invalid_argument,
                            file.string() + " line 2");
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
    CHECK(options.timeout == std::chrono::milliseconds(2500));
    CHECK(options.port == 2222);
    CHECK(options.host_key_policy == pssh::HostKeyPolicy::ignore);
    CHECK(options.keepalive == std::chrono::seconds(10));
    auto env = pssh::read_environment();
    CHECK(env.hosts.size() == 2);
    CHECK(env.outdir == "/tmp/out");
    CHECK(env.verbose);

    ::setenv("PSSH_PAR", "many", 1);
    CHECK_THROWS_CONTAINING(pssh::ClientOptions::from_env(), std::invalid_argument,
                            "PSSH_PAR='many': expected a positive whole number");
    ::setenv("PSSH_PAR", "7", 1);
    ::setenv("PSSH_OPTIONS", "Ciphers=aes128-ctr", 1);
    CHECK_THROWS_CONTAINING(pssh::ClientOptions::from_env(), std::invalid_argument,
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
    CHECK(results["127.0.0.2"].out == "out-x\n");
    CHECK(results["127.0.0.2"].err == "err\n");
    CHECK(results["127.0.0.2"].exit_code == 3);
    CHECK_FALSE(results["127.0.0.2"].ok());
    CHECK(results["127.0.0.4"].error);
    CHECK(results["127.0.0.4"].error_message().find("cannot connect") != std::string::npos);
    auto repeated = pssh::call({"127.0.0.2", "127.0.0.2"}, "true", options);
    CHECK(repeated.count("127.0.0.2") == 1);
    CHECK(repeated.count("127.0.0.2#1") == 1);
    CHECK(repeated["127.0.0.2#1"].ok());
  }

  TEST_CASE("copy sends a file to every host; slurp brings it back into a folder per host") {
    rig::TempDir dir;
    auto local = dir.path() / "app.conf";
    rig::write_file(local, "setting=1\n");
    auto remote = (dir.path() / "remote" / "app.conf").string();
    auto options = server().options();
    std::vector<std::string> hosts{"127.0.0.2", "127.0.0.3"};
    // Every loopback host is the same machine: give each its own remote path.
    auto sent = pssh::copy(hosts, local.string(), remote, options);
    for (auto& [host, r] : sent) CHECK_MESSAGE(r.ok(), host << ": " << r.error_message());
    auto fetched = pssh::slurp(hosts, remote, (dir.path() / "fetched").string(), options);
    for (auto& [host, r] : fetched) {
      INFO(host << ": " << r.error_message());
      CHECK(r.ok());
      CHECK(rig::read_file(dir.path() / "fetched" / host / "app.conf") == "setting=1\n");
    }
    auto missing = pssh::slurp({"127.0.0.2"}, "/no/such/file", (dir.path() / "x").string(), options);
    CHECK(missing["127.0.0.2"].error_message().find("/no/such/file") != std::string::npos);
  }
}
