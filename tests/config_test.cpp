// ~/.ssh/config: the parser, and a host reached only through its config.
#include "common.hpp"

#include "ssh_config.hpp"

using pssh::detail::lookup_ssh_config;

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
    auto web1 = lookup_ssh_config(text, "web1", "cfg");
    CHECK(web1.hostname == "10.0.0.1");
    CHECK(web1.port == 2222);
    CHECK(web1.user == "deploy");
    CHECK(web1.proxy_jump == "bastion");
    CHECK(web1.forward_agent == true);
    CHECK(web1.compression == true);
    CHECK(web1.server_alive_interval == 15);
    CHECK(web1.identity_files == std::vector<std::string>{"~/.ssh/web_key", "~/.ssh/id %h"});
    auto web3 = lookup_ssh_config(text, "web3", "cfg");
    CHECK_FALSE(web3.hostname.has_value());
    CHECK(web3.port == 22);
  }

  TEST_CASE("a bad Port or ServerAliveInterval names the file and line") {
    CHECK_THROWS_CONTAINING(lookup_ssh_config("Host *\n Port http\n", "h", "/x/config"),
                            pssh::Error, "/x/config line 2: Port 'http' is not a port number");
    CHECK_THROWS_CONTAINING(lookup_ssh_config("ServerAliveInterval soon\n", "h", "/x/config"),
                            pssh::Error, "/x/config line 1: ServerAliveInterval 'soon'");
  }

  TEST_CASE("HostName, Port, User and IdentityFile from the config reach the host") {
    rig::TempDir dir;
    auto config = dir.path() / "config";
    rig::write_file(config, "Host db-alias\n  HostName 127.0.0.7\n  Port " +
                                std::to_string(server().port()) + "\n  User root\n  IdentityFile " +
                                server().user_key().string() + "\n");
    auto options = server().options();
    options.pkey.reset();
    options.port = 22;  // the default: the config's Port applies
    options.user.clear();
    options.identity_auth = true;
    options.ssh_config = config.string();
    pssh::Client client("db-alias", options);
    auto output = client.run_command("echo $USER $SSH_CONNECTION");
    auto out = lines(output.stdout_lines());
    REQUIRE(out.size() == 1);
    CHECK(out[0].rfind("root ", 0) == 0);
    CHECK(out[0].find("127.0.0.7 " + std::to_string(server().port())) != std::string::npos);
  }
}
