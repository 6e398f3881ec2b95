// The pssh command-line tool against the suite's sshd: output modes, exit
// statuses, usage errors. PSSH_CLI names the binary (set by meson).
#include "common.hpp"

#include <pssh/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace {

/// Runs the CLI with the suite's key and known_hosts (started by the
/// `wrapper` command, if any); returns its status.
int cli(std::vector<std::string> args, std::string* out = nullptr,
        std::vector<std::string> wrapper = {}) {
  const char* binary = std::getenv("PSSH_CLI");
  REQUIRE(binary != nullptr);
  auto options = server().options();
  std::vector<std::string> argv = std::move(wrapper);
  // -F: the rig's empty config alone, never the machine's /etc/ssh/ssh_config.
  argv.insert(argv.end(), {binary, "-F", *options.ssh_config, "-p", std::to_string(server().port()),
                           "-x", "IdentityFile=" + options.pkey->path(), "-x",
                           "UserKnownHostsFile=" + *options.known_hosts, "-x",
                           "ConnectionAttempts=1"});
  argv.insert(argv.end(), args.begin(), args.end());
  std::string ignored;
  return rig::run(argv, out != nullptr ? out : &ignored);
}

}  // namespace

TEST_SUITE("cli") {
  TEST_CASE("lines stream as host: line; all good is status 0") {
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-4]", "echo hi"}, &out) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"})
      CHECK(out.find(std::string(host) + ": hi\n") != std::string::npos);
  }

  TEST_CASE("stdin: a pipe is sent to every host, /dev/null and --no-stdin end cat at once") {
    std::string out;
    auto through = [](const std::string& shell) {
      return std::vector<std::string>{"timeout", "30", "sh", "-c", shell, "sh"};
    };
    CHECK(cli({"-H", "127.0.0.[2-3]", "cat"}, &out, through("printf 'one\\ntwo\\n' | \"$@\"")) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3"}) {
      CHECK(out.find(std::string(host) + ": one\n") != std::string::npos);
      CHECK(out.find(std::string(host) + ": two\n") != std::string::npos);
    }
    CHECK(cli({"-H", "127.0.0.2", "cat; echo done"}, &out, through("\"$@\" < /dev/null")) == 0);
    CHECK(out == "127.0.0.2: done\n");
    // An open pipe that never ends is not read with --no-stdin.
    CHECK(cli({"-H", "127.0.0.2", "--no-stdin", "cat; echo done"}, &out,
              through("sleep 60 | { \"$@\"; status=$?; pkill -P $$ -x sleep; exit $status; }")) == 0);
    CHECK(out == "127.0.0.2: done\n");
  }

  TEST_CASE("exit statuses: 5 non-zero, 4 connection error, 3 timeout, 2 usage") {
    CHECK(cli({"-H", "127.0.0.2", "exit 7"}) == 5);
    CHECK(cli({"-H", "127.0.0.2", "-H", "127.0.0.3:" + std::to_string(rig::refused_port()), "true"}) == 4);
    CHECK(cli({"-H", "127.0.0.2", "-t", "1", "sleep 10"}) == 3);
    CHECK(cli({"echo no hosts"}) == 2);
    CHECK(cli({"-H", "127.0.0.2", "--bogus", "true"}) == 2);
    std::string help;
    CHECK(cli({"--help"}, &help) == 0);
    CHECK(help.find("Exit status") != std::string::npos);
  }

  TEST_CASE("-b gathers identical output; --json gives every host; -o writes a file per host") {
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-4]", "-b", "echo same"}, &out) == 0);
    CHECK(out.find("127.0.0.2,127.0.0.3,127.0.0.4\n") != std::string::npos);
    CHECK(out.find("\nsame\n") != std::string::npos);

    CHECK(cli({"-H", "127.0.0.2", "-H", "127.0.0.3", "--json", "echo j; exit 1"}, &out) == 5);
    auto j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 2);
    CHECK(j[0]["stdout"] == "j\n");
    CHECK(j[0]["exit_code"] == 1);

    rig::TempDir dir;
    CHECK(cli({"-H", "127.0.0.2", "-o", dir.path().string(), "-i", "echo to-file"}) == 0);
    CHECK(rig::read_file(dir.path() / "127.0.0.2") == "to-file\n");
  }

  TEST_CASE("a progress line is drawn on a terminal and never in a pipe") {
    std::string piped;
    CHECK(cli({"-H", "127.0.0.[2-3]", "sleep 0.3"}, &piped) == 0);
    CHECK(piped.find("done,") == std::string::npos);
    // script(1) gives the command a terminal and copies what it drew.
    auto options = server().options();
    std::string command = std::string(std::getenv("PSSH_CLI")) + " -p " + std::to_string(server().port()) +
                          " -x IdentityFile=" + options.pkey->path() +
                          " -F " + *options.ssh_config + " -x UserKnownHostsFile=" +
                          *options.known_hosts + " -H 127.0.0.[2-3] 'sleep 0.3'";
    std::string drawn;
    CHECK(rig::run({"script", "-qec", command, "/dev/null"}, &drawn) == 0);
    CHECK(drawn.find("[0/2 done, 0 failed, 2 running]") != std::string::npos);
  }

  TEST_CASE("--copy sends a file to every host; --slurp brings it back, a folder per host") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "app.conf", "x=1\n");
    std::string remote = (dir.path() / "remote" / "app.conf").string();
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-3]", "--copy", (dir.path() / "app.conf").string(), remote}, &out) == 0);
    CHECK(out == "127.0.0.2: OK\n127.0.0.3: OK\n");
    CHECK(cli({"-H", "127.0.0.[2-3]", "--slurp", remote, (dir.path() / "back").string()}) == 0);
    CHECK(rig::read_file(dir.path() / "back" / "127.0.0.3" / "app.conf") == "x=1\n");
    CHECK(cli({"-H", "127.0.0.2", "--slurp", "/no/such/file", (dir.path() / "x").string()}) == 1);
  }

  TEST_CASE("--inventory reads hosts and defaults from JSON") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "inventory.json",
                    R"({"defaults": {"port": )" + std::to_string(server().port()) +
                        R"(, "pkey": ")" + server().user_key().string() + R"(", "known_hosts": ")" +
                        server().known_hosts().string() +
                        R"("}, "hosts": ["127.0.0.[5-6]", {"host": "127.0.0.7", "alias": "seven"}]})");
    std::string out;
    const char* binary = std::getenv("PSSH_CLI");
    REQUIRE(binary != nullptr);
    CHECK(rig::run({binary, "--inventory", (dir.path() / "inventory.json").string(), "-b", "echo inv"},
                   &out) == 0);
    CHECK(out.find("127.0.0.5,127.0.0.6,seven\n") != std::string::npos);
  }

  TEST_CASE("a DNS server that never answers is a Timeout within ConnectTimeout, not the resolver's own wait") {
    // The CLI runs in a mount namespace of its own, whose resolv.conf names a
    // UDP socket that never answers.
    int dns = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(53);
    ::inet_pton(AF_INET, "127.0.0.153", &address.sin_addr);
    bool bound = ::bind(dns, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    std::string probe;
    bool namespaces = rig::run({"unshare", "-m", "true"}, &probe) == 0;
    if (!bound || !namespaces) {
      MESSAGE("skipped: needs root for port 53 and unshare(1) for a private resolv.conf");
      ::close(dns);
      return;
    }
    rig::TempDir dir;
    auto resolv = dir.path() / "resolv.conf";
    rig::write_file(resolv, "nameserver 127.0.0.153\noptions timeout:10 attempts:1\n");
    std::vector<std::string> private_resolv{
        "unshare", "-m", "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
        resolv.string()};
    std::string out;
    auto start = std::chrono::steady_clock::now();
    CHECK(cli({"-H", "web1.pssh-test.example", "-x", "ConnectTimeout=1", "--json", "true"}, &out,
              private_resolv) == 3);
    CHECK(seconds_since(start) < 5);  // the resolver alone would wait 10 s
    ::close(dns);
    auto j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 1);
    CHECK(j[0]["error_type"] == "Timeout");
    CHECK(j[0]["error"].get<std::string>().find("DNS server did not answer") != std::string::npos);
  }

  TEST_CASE("-G prints what effective_ssh_options() gives; -F reads that file alone") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "config", "Host web*\n  HostName %h.example.com\n  User ops\n"
                                             "  ProxyJump jump1,ops@jump2:2222\n  SendEnv LANG\n");
    std::string out;
    REQUIRE(rig::run({std::getenv("PSSH_CLI"), "-F", (dir.path() / "config").string(), "-p", "2200", "-G",
                      "web1"}, &out) == 0);
    pssh::ClientOptions options;
    options.ssh_config = (dir.path() / "config").string();
    options.system_ssh_config.reset();
    options.port = 2200;
    std::string expected;
    for (const auto& [keyword, value] : pssh::effective_ssh_options("web1", options))
      expected += keyword + " " + value + "\n";
    CHECK(out == expected);
    CHECK(out.find("hostname web1.example.com\n") != std::string::npos);
    CHECK(out.find("port 2200\n") != std::string::npos);
    CHECK(out.find("proxyjump jump1,ops@jump2:2222\n") != std::string::npos);
    CHECK(rig::run({std::getenv("PSSH_CLI"), "-F", (dir.path() / "missing").string(), "-G", "h"}) == 2);
  }
}
