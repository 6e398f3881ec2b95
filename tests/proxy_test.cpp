// Proxy (bastion) tunnels: targets reached over direct-tcpip channels of one
// proxy session, per-host and whole-proxy failures, ProxyJump from the config.
#include "common.hpp"

#include "config/settings.hpp"
#include "config/ssh_config.hpp"
#include "ssh/keys.hpp"

#include <pssh/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>

using namespace std::chrono_literals;

namespace {

/// A second sshd playing the bastion; it accepts the suite's user key.
struct Bastion {
  explicit Bastion(std::vector<std::string> extra = {}) : sshd({.extra_config = std::move(extra)}) {
    rig::write_file(sshd.dir() / "authorized_keys",
                    rig::read_file(server().user_key().string() + ".pub"));
  }
  pssh::ProxyConfig proxy(const std::string& address = "127.0.0.1") const {
    return {.host = address, .port = sshd.port()};
  }
  std::size_t connections() const { return rig::child_pids(sshd.pid()).size(); }
  rig::Sshd sshd;
};

pssh::ClientOptions through(const Bastion& bastion) {
  auto options = server().options();
  options.proxy = bastion.proxy();
  return options;
}

/// This process's children: name (/proc/<pid>/comm) and state ('Z': a zombie).
struct Child {
  pid_t pid;
  std::string name;
  char state;
};
std::vector<Child> children() {
  std::vector<Child> found;
  for (pid_t pid : rig::child_pids(::getpid())) {
    std::string stat = rig::read_file("/proc/" + std::to_string(pid) + "/stat");
    auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size())
      continue;
    found.push_back({pid, stat.substr(open + 1, close - open - 1), stat[close + 2]});
  }
  return found;
}
/// Children named `name` that still run (not zombies).
std::size_t running(const std::string& name) {
  auto all = children();
  return std::count_if(all.begin(), all.end(),
                       [&](const Child& c) { return c.name == name && c.state != 'Z'; });
}
std::size_t zombies() {
  auto all = children();
  return std::count_if(all.begin(), all.end(), [](const Child& c) { return c.state == 'Z'; });
}

/// OpenSSH's ssh as a ProxyCommand through the suite's sshd as the bastion,
/// with nothing from the machine. Its known_hosts is a file of the test's
/// own: the rig's is pssh's, and 20 ssh processes would append to it.
std::string ssh_w_command(const rig::TempDir& dir) {
  return "ssh -F /dev/null -i " + server().user_key().string() + " -o UserKnownHostsFile=" +
         (dir.path() / "known_hosts").string() +
         " -o StrictHostKeyChecking=no -o BatchMode=yes -o LogLevel=ERROR -p " +
         std::to_string(server().port()) + " -W %h:%p 127.0.0.1";
}

}  // namespace

TEST_SUITE("proxy") {
  TEST_CASE("ProxyCommand reaches 20 hosts: nc %h %p, and ssh -W through a bastion") {
    rig::TempDir dir;
    auto options = server().options();
    std::string program;
    SUBCASE("nc") {
      options.proxy_command = "nc %h %p";
      program = "nc";
    }
    SUBCASE("ssh -W") {
      options.proxy_command = ssh_w_command(dir);
      program = "ssh";
    }
    int fds = open_fds();
    {
      pssh::ParallelClient client(rig::loopback_hosts(20), options, server().spread(20));
      auto output = client.run_command("echo via-proxy; exit 4", {.stop_on_errors = false});
      client.join(output);
      for (auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        CHECK(lines(h.stdout_lines()) == std::vector<std::string>{"via-proxy"});
        CHECK(h.exit_code() == 4);
      }
      CHECK(running(program) == 20);  // one per connection, kept between commands
    }
    CHECK(running(program) == 0);
    CHECK(zombies() == 0);
    CHECK(open_fds() == fds);
  }

  TEST_CASE("cancel() and a command timeout end the ProxyCommand at once") {
    auto options = server().options();
    options.proxy_command = "nc %h %p";
    pssh::ParallelClient client(rig::loopback_hosts(5), options);
    bool cancel = false;
    SUBCASE("cancel") { cancel = true; }
    SUBCASE("timeout") {}
    std::optional<pssh::duration> timeout;
    // Long enough for every host to start before the count, in sanitizer builds too.
    if (!cancel) timeout = std::chrono::duration_cast<pssh::duration>(1s * slowdown);
    auto output = client.run_command("echo started; sleep 30",
                                     {.stop_on_errors = false, .command_timeout = timeout});
    for (auto& h : output) CHECK(*h.stdout_lines().begin() == "started");
    CHECK(running("nc") == 5);
    auto start = std::chrono::steady_clock::now();
    if (cancel) client.cancel();
    client.join(output);
    CHECK(seconds_since(start) < 3.0 * slowdown);
    for (auto& h : output) {
      INFO(h.host() << ": " << error_message(h));
      CHECK((cancel ? host_error_is<pssh::Cancelled>(h) : host_error_is<pssh::Timeout>(h)));
    }
    // Killed when the connection was cut, and reaped with the session.
    CHECK(running("nc") == 0);
    CHECK(zombies() == 0);
  }

  TEST_CASE("a ProxyCommand that fails is the host's ProxyError with its status and stderr") {
    auto options = server().options();
    std::vector<std::string> expected;
    SUBCASE("it exits with 3") {
      options.proxy_command = "sh -c 'echo no route to %h >&2; exit 3'";
      expected = {"ProxyCommand 'sh -c 'echo no route to 127.0.0.2 >&2; exit 3'' for 127.0.0.2 "
                  "exited with status 3: no route to 127.0.0.2"};
    }
    SUBCASE("nc to a refused port") {  // -v: OpenBSD nc is silent about a refusal without it
      std::string port = std::to_string(rig::refused_port());
      options.proxy_command = "nc -v %h " + port;
      expected = {"ProxyCommand 'nc -v 127.0.0.2 " + port + "' for 127.0.0.2 exited with status 1: ",
                  "nc: connect to 127.0.0.2 port " + port, "Connection refused"};
    }
    int fds = open_fds();
    {
      pssh::ParallelClient client({"127.0.0.2"}, options);
      auto output = client.run_command("true", {.stop_on_errors = false});
      client.join(output);
      REQUIRE(host_error_is<pssh::ProxyError>(output[0]));
      for (const auto& part : expected) {
        INFO(error_message(output[0]));
        CHECK(error_message(output[0]).find(part) != std::string::npos);
      }
    }
    CHECK(zombies() == 0);
    CHECK(open_fds() == fds);
  }

  TEST_CASE("a ProxyCommand that dies mid-command is the host's ProxyError naming the signal") {
    auto options = server().options();
    options.proxy_command = "nc %h %p";
    pssh::ParallelClient client({"127.0.0.2"}, options);
    auto output = client.run_command("echo started; sleep 30", {.stop_on_errors = false});
    CHECK(*output[0].stdout_lines().begin() == "started");
    for (const Child& c : children())
      if (c.name == "nc") ::kill(c.pid, SIGKILL);
    client.join(output);
    REQUIRE(host_error_is<pssh::ProxyError>(output[0]));
    CHECK(error_message(output[0]).find("ProxyCommand 'nc 127.0.0.2 " +
                                        std::to_string(server().port()) +
                                        "' for 127.0.0.2 was killed by SIGKILL") != std::string::npos);
  }

  TEST_CASE("a ProxyCommand that never speaks ends by the timeout, and is killed") {
    auto options = server().options();
    options.proxy_command = "sleep 1000";
    options.timeout = 1s;
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, options);
    auto start = std::chrono::steady_clock::now();
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    CHECK(seconds_since(start) < 4.0 * slowdown);
    for (auto& h : output) {
      INFO(error_message(h));
      CHECK(host_error_is<pssh::Timeout>(h));
    }
    CHECK(running("sleep") == 0);
    CHECK(zombies() == 0);
  }

  TEST_CASE("a ProxyCommand per host: HostConfig's wins, \"none\" connects directly") {
    auto options = server().options();
    options.proxy_command = "sh -c 'echo the default >&2; exit 7'";
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3", "127.0.0.4"}, options,
                                {{.proxy_command = "nc %h %p"}, {.proxy_command = "none"}, {}});
    auto output = client.run_command("echo ran", {.stop_on_errors = false});
    client.join(output);
    CHECK(lines(output[0].stdout_lines()) == std::vector<std::string>{"ran"});
    CHECK(lines(output[1].stdout_lines()) == std::vector<std::string>{"ran"});
    REQUIRE(host_error_is<pssh::ProxyError>(output[2]));
    CHECK(error_message(output[2]).find("exited with status 7: the default") != std::string::npos);
  }

  TEST_CASE("a server that closes during key exchange behind a ProxyCommand is the server's SessionError") {
    rig::FakeServer closing(rig::FakeServer::Behaviour::close_mid_handshake);
    auto options = server().options();
    options.proxy_command = "nc %h %p";
    options.port = closing.port();
    pssh::Client client("127.0.0.1", options);
    // nc exits 0 when the server closes: it only passed the close on.
    CHECK_THROWS_CONTAINING(client.run_command("true"), pssh::SessionError,
                            "the server closed the connection during key exchange");
  }

  TEST_CASE("ProxyCommand tokens, \"none\", and a ProxyCommand with a proxy") {
    rig::TempDir dir;
    auto config_path = dir.path() / "config";
    rig::write_file(config_path, "Host web1\n  HostName 10.0.0.1\n");
    pssh::detail::SshConfigFile config(config_path.string(), std::nullopt);
    pssh::detail::KeyCache keys;
    pssh::ClientOptions options{.user = "deploy", .port = 2222};
    options.proxy_command = "connect %h:%p as %r for %n at 100%%";
    auto resolved = [&](const pssh::HostConfig& host) {
      return pssh::detail::resolve_settings("web1", 0, options, host, config, &keys);
    };
    CHECK(resolved({}).proxy_command == "connect 10.0.0.1:2222 as deploy for web1 at 100%");
    CHECK(resolved({.proxy_command = "none"}).proxy_command == std::nullopt);
    CHECK_THROWS_CONTAINING(resolved({.proxy_command = "nc %h %x"}), pssh::HostArgumentError,
                            "uses %x, which ProxyCommand does not accept");
    // The host's own route beats the client's; both on one level is an error.
    CHECK(resolved({.proxy = pssh::ProxyConfig{.host = "bastion"}}).proxy_command == std::nullopt);
    CHECK_THROWS_CONTAINING(resolved({.proxy = pssh::ProxyConfig{.host = "bastion"},
                                      .proxy_command = "nc %h %p"}),
                            pssh::HostArgumentError,
                            "both a ProxyCommand and a proxy are set for web1");
    pssh::ClientOptions from_cli;  // pssh -x 'ProxyCommand=ssh -W %h:%p bastion'
    pssh::apply_ssh_option(from_cli, "ProxyCommand=ssh -W %h:%p bastion");
    CHECK(from_cli.proxy_command == "ssh -W %h:%p bastion");
  }

  TEST_CASE("50 hosts behind one proxy: every output right, one proxy connection") {
    Bastion bastion;
    pssh::ParallelClient client(rig::loopback_hosts(50), through(bastion));
    std::vector<pssh::HostArgs> args;
    for (std::size_t i = 0; i < 50; ++i) args.emplace_back(std::vector<std::string>{std::to_string(i)});
    auto output = client.run_command("echo host-{0}; head -c 100000 /dev/zero | wc -c; exit {0}",
                                     {.host_args = args});
    client.join(output);
    for (auto& h : output) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(lines(h.stdout_lines()) ==
            std::vector<std::string>{"host-" + std::to_string(h.index()), "100000"});
      CHECK(h.exit_code() == static_cast<int>(h.index() % 256));
    }
    // Connections are kept between commands: the bastion still holds exactly one.
    CHECK(bastion.connections() == 1);
    auto again = client.run_command("true");
    client.join(again);
    for (auto& h : again) CHECK(h.exit_code() == 0);
    CHECK(bastion.connections() == 1);
  }

  TEST_CASE("a target the proxy cannot reach is that host's ProxyError; the others run") {
    Bastion bastion;
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, through(bastion),
                                {{}, {.port = rig::refused_port()}});
    auto output = client.run_command("echo ok", {.stop_on_errors = false});
    client.join(output);
    CHECK(lines(output[0].stdout_lines()) == std::vector<std::string>{"ok"});
    REQUIRE(host_error_is<pssh::ProxyError>(output[1]));
    CHECK(error_message(output[1]).find("could not open a connection") != std::string::npos);
    CHECK(error_message(output[1]).find("127.0.0.3") != std::string::npos);
  }

  TEST_CASE("a proxy that forbids forwarding refuses every tunnel") {
    Bastion bastion({"AllowTcpForwarding no"});
    pssh::ParallelClient client(rig::loopback_hosts(3), through(bastion));
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    for (auto& h : output) CHECK(host_error_is<pssh::ProxyError>(h));
  }

  TEST_CASE("an unreachable proxy fails its hosts quickly with ProxyError; other hosts run") {
    auto options = server().options();
    pssh::ProxyConfig dead{.host = "127.0.0.1", .port = rig::refused_port()};
    std::vector<pssh::HostConfig> config(10, pssh::HostConfig{.proxy = dead});
    config[9].proxy = std::nullopt;  // this one is reached directly
    options.proxy = std::nullopt;
    auto start = std::chrono::steady_clock::now();
    pssh::ParallelClient client(rig::loopback_hosts(10), options, config);
    auto output = client.run_command("echo direct", {.stop_on_errors = false});
    client.join(output);
    CHECK(seconds_since(start) < 10 * slowdown);
    for (std::size_t i = 0; i < 9; ++i) {
      INFO(output[i].host());
      REQUIRE(host_error_is<pssh::ProxyError>(output[i]));
      CHECK(error_message(output[i]).find("through the proxy") != std::string::npos);
      CHECK(error_message(output[i]).find(std::to_string(*dead.port)) != std::string::npos);
    }
    CHECK(lines(output[9].stdout_lines()) == std::vector<std::string>{"direct"});
  }

  TEST_CASE("cancel() reaches hosts whose proxy is still connecting, and those waiting for it") {
    rig::FakeServer blackhole(rig::FakeServer::Behaviour::blackhole);
    auto options = server().options();
    options.timeout = 60s;
    rig::TempDir dir;
    SUBCASE("a proxy") {
      options.proxy = pssh::ProxyConfig{.host = "127.0.0.1", .port = blackhole.port()};
    }
    SUBCASE("the first of two ProxyJump hops") {
      auto config = dir.path() / "config";
      rig::write_file(config, "Host *\n  ProxyJump 127.0.0.1:" + std::to_string(blackhole.port()) +
                                  ",127.0.0.1:" + std::to_string(server().port()) + "\n");
      options.ssh_config = config.string();
    }
    pssh::ParallelClient client(rig::loopback_hosts(4), options);
    CHECK(seconds_to_cancel(client, 300ms) < 2.0 * slowdown);  // the grace time, not the 60 s timeout
    for (const auto& h : client.get_last_output()) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(host_error_is<pssh::Cancelled>(h));
    }
  }

  TEST_CASE("losing the proxy mid-command is a ProxyError on its hosts, then it reconnects") {
    Bastion bastion;
    pssh::ParallelClient client(rig::loopback_hosts(5), through(bastion));
    auto output = client.run_command("echo started; sleep 30", {.stop_on_errors = false});
    for (auto& h : output) {
      auto range = h.stdout_lines();
      CHECK(*range.begin() == "started");
    }
    for (pid_t connection : rig::child_pids(bastion.sshd.pid())) ::kill(connection, SIGTERM);
    auto start = std::chrono::steady_clock::now();
    client.join(output);
    CHECK(seconds_since(start) < 10 * slowdown);
    for (auto& h : output) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(host_error_is<pssh::ProxyError>(h));
    }
    auto again = client.run_command("echo back");
    client.join(again);
    for (auto& h : again) CHECK(lines(h.stdout_lines()) == std::vector<std::string>{"back"});
  }

  TEST_CASE("ProxyJump in the ssh config is honoured, hop by hop") {
    Bastion bastion;
    rig::TempDir dir;
    auto config = dir.path() / "config";
    std::string port = std::to_string(bastion.sshd.port());
    rig::write_file(config, "Host 127.0.0.2\n  ProxyJump 127.0.0.1:" + port +
                                "\nHost 127.0.0.3\n  ProxyJump 127.0.0.1:" + port + ",127.0.0.9:" +
                                port + "\n");
    auto options = server().options();
    options.ssh_config = config.string();
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3", "127.0.0.4"}, options);
    auto output = client.run_command("echo $SSH_CONNECTION");
    client.join(output);
    for (auto& h : output) CHECK(h.exit_code() == 0);
    // 127.0.0.2 and the first hop of 127.0.0.3 share one connection; the
    // second hop is a connection made through it; 127.0.0.4 goes direct.
    CHECK(bastion.connections() == 2);
  }

  TEST_CASE("a ProxyJump hop without a port takes its own config entry's Port, not the targets'") {
    // The same line means the same thing wherever it is given: in the ssh
    // config, as an option (-o, PSSH_OPTIONS), in JSON, or as a ProxyConfig.
    Bastion bastion;
    rig::TempDir dir;
    auto config = dir.path() / "config";
    std::string entry = "Host jump-alias\n  HostName 127.0.0.1\n  Port " + std::to_string(bastion.sshd.port()) + "\n";
    auto options = server().options();  // the targets' port is the suite sshd's
    options.ssh_config = config.string();
    SUBCASE("ProxyJump in the ssh config") {
      rig::write_file(config, entry + "Host 127.0.0.2\n  ProxyJump jump-alias\n");
    }
    SUBCASE("ProxyJump as an option") {
      rig::write_file(config, entry);
      pssh::apply_ssh_option(options, "ProxyJump=jump-alias");
    }
    SUBCASE("a proxy in JSON") {
      rig::write_file(config, entry);
      options.proxy = pssh::client_options_from_json(nlohmann::json::parse(R"({"proxy": {"host": "jump-alias"}})")).proxy;
    }
    SUBCASE("a ProxyConfig") {
      rig::write_file(config, entry);
      options.proxy = pssh::ProxyConfig{.host = "jump-alias"};
    }
    pssh::ParallelClient client({"127.0.0.2"}, options);
    auto output = client.run_command("echo through");
    client.join(output);
    INFO(error_message(output[0]));
    CHECK(lines(output[0].stdout_lines()) == std::vector<std::string>{"through"});
    CHECK(bastion.connections() == 1);
  }

  TEST_CASE("ProxyJump values parse into hops") {
    using pssh::detail::parse_proxy_jump;
    auto hops = parse_proxy_jump("ssh://ops@jump1:2222,jump2,[::1]:2200", "h", "cfg");
    REQUIRE(hops.size() == 3);
    CHECK(hops[0].user == "ops");
    CHECK(hops[0].host == "jump1");
    CHECK(hops[0].port == 2222);
    CHECK(hops[1].host == "jump2");
    CHECK(hops[1].port == std::nullopt);  // the hop's own config entry, else 22
    CHECK(hops[1].user == std::nullopt);
    CHECK(hops[2].host == "[::1]");
    CHECK(hops[2].port == 2200);
    CHECK(parse_proxy_jump("none", "h", "cfg").empty());
    CHECK_THROWS_CONTAINING(parse_proxy_jump("jump:http", "h", "cfg"), pssh::HostArgumentError,
                            "cfg: ProxyJump 'jump:http': 'http' is not a port number (1-65535)");
    // A config's ProxyJump is one argument, as ssh(1) splits it: a comment is no part of it.
    using pssh::detail::lookup_ssh_config;
    CHECK(lookup_ssh_config("ProxyJump ops@jump1 # the way in\n", "h", "cfg").options.proxy_jump == "ops@jump1");
    CHECK_THROWS_CONTAINING(lookup_ssh_config("ProxyJump jump1, jump2\n", "h", "cfg"), pssh::HostArgumentError,
                            "cfg line 1: proxyjump jump1, jump2: takes exactly one argument");
  }
}
