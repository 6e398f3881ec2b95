// The pssh command-line tool against the suite's sshd: output modes, exit
// statuses, usage errors. PSSH_CLI names the binary (set by meson).
#include "common.hpp"

#include <pssh/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

namespace {

/// The CLI's command line with the suite's key and known_hosts.
std::vector<std::string> cli_argv(const std::vector<std::string>& args) {
  const char* binary = std::getenv("PSSH_CLI");
  REQUIRE(binary != nullptr);
  auto options = server().options();
  // -F: the rig's empty config alone, never the machine's /etc/ssh/ssh_config.
  std::vector<std::string> argv{binary, "-F", *options.ssh_config, "-p", std::to_string(server().port()),
                                "-x", "IdentityFile=" + options.pkey->path(), "-x",
                                "UserKnownHostsFile=" + *options.known_hosts, "-x",
                                "ConnectionAttempts=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

/// Runs the CLI (started by the `wrapper` command, if any); returns its status.
int cli(std::vector<std::string> args, std::string* out = nullptr,
        std::vector<std::string> wrapper = {}) {
  std::vector<std::string> argv = std::move(wrapper);
  for (auto& arg : cli_argv(args)) argv.push_back(std::move(arg));
  std::string ignored;
  return rig::run(argv, out != nullptr ? out : &ignored);
}

/// Lines of `text` that start with `prefix`.
std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
  std::size_t count = 0;
  for (std::size_t at = 0; at < text.size();) {
    count += text.compare(at, prefix.size(), prefix) == 0;
    std::size_t end = text.find('\n', at);
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return count;
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
    CHECK(out.find("\n127.0.0.[2-4]\n") != std::string::npos);
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

  TEST_CASE("--failed and --succeeded write hosts files; pssh -h FILE re-runs exactly the failed hosts") {
    rig::TempDir dir;
    auto hosts = dir.path() / "hosts", failed = dir.path() / "failed", succeeded = dir.path() / "succeeded";
    rig::write_file(hosts, "root@127.0.0.[2-4]\nroot@127.0.0.5 alias=five\n127.0.0.[6-13]\n");
    std::string refused = "127.0.0.14:" + std::to_string(rig::refused_port());
    std::string out;
    CHECK(cli({"-h", hosts.string(), "-H", refused, "--failed", failed.string(), "--succeeded",
               succeeded.string(), "case $SSH_CONNECTION in *'127.0.0.5 '*|*'127.0.0.9 '*) exit 1;; esac"},
              &out) == 4);
    CHECK(rig::read_file(failed) == "root@127.0.0.5 alias=five\n127.0.0.9\n" + refused + "\n");
    CHECK(rig::read_file(succeeded) ==
          "root@127.0.0.2\nroot@127.0.0.3\nroot@127.0.0.4\n127.0.0.6\n127.0.0.7\n127.0.0.8\n"
          "127.0.0.10\n127.0.0.11\n127.0.0.12\n127.0.0.13\n");
    CHECK(cli({"-h", failed.string(), "echo again"}, &out) == 4);
    CHECK(out.size() == std::string("five: again\n127.0.0.9: again\n").size());  // in either order
    CHECK(out.find("five: again\n") != std::string::npos);
    CHECK(out.find("127.0.0.9: again\n") != std::string::npos);
    CHECK(cli({"-h", succeeded.string(), "--failed", failed.string(), "true"}) == 0);
    CHECK(rig::read_file(failed).empty());
    CHECK(cli({"-H", "127.0.0.2", "--failed", (dir.path() / "no" / "dir").string(), "true"}) == 1);
  }

  TEST_CASE("4 shards of 200 hosts merge into the same --json, -b, --failed and status as one run") {
    rig::TempDir dir;
    const std::vector<std::string> hosts{"-H", "127.0.0.[2-201]", "-H",
                                         "127.0.0.250:" + std::to_string(rig::refused_port())};
    // Groups of 50 addresses; 10-19 fail, 20-29 also write to stderr.
    const std::string command =
        "a=$(echo $SSH_CONNECTION | cut -d' ' -f3); echo group $((${a##*.} / 50)); "
        "case $a in 127.0.0.2[0-9]) echo warn >&2;; 127.0.0.1[0-9]) exit 2;; esac";
    auto with = [](std::vector<std::string> args, std::vector<std::string> more) {
      args.insert(args.end(), more.begin(), more.end());
      return args;
    };
    std::string whole_json, merged;
    auto whole_failed = dir.path() / "whole-failed", merged_failed = dir.path() / "merged-failed";
    int status = cli(with(hosts, {"--json", "--failed", whole_failed.string(), command}), &whole_json);
    CHECK(status == 4);
    CHECK(nlohmann::json::parse(whole_json).size() == 201);
    std::vector<std::string> parts;
    for (int shard = 0; shard < 4; ++shard) {
      std::string part;
      cli(with(hosts, {"--shard", std::to_string(shard) + "/4", "--jsonl", command}), &part);
      CHECK(std::count(part.begin(), part.end(), '\n') == (shard < 3 ? 50 : 51));
      parts.push_back((dir.path() / ("part" + std::to_string(shard) + ".jsonl")).string());
      rig::write_file(parts.back(), part);
    }
    CHECK(cli(with({"--json", "--failed", merged_failed.string(), "--merge"}, parts), &merged) == status);
    CHECK(merged == whole_json);
    CHECK(rig::read_file(merged_failed) == rig::read_file(whole_failed));
    CHECK(count_lines_starting(rig::read_file(whole_failed), "127.0.0.1") == 10);
    // -b is made from the same results as --json, whether run or merged.
    CHECK(cli(with({"-b", "--merge"}, parts), &merged) == status);
    for (const char* group : {"127.0.0.[2-9,30-49]\n", "127.0.0.[10-19]\n", "127.0.0.[20-29]\n",
                              "127.0.0.[50-99]\n", "127.0.0.[100-149]\n", "127.0.0.[150-199]\n",
                              "127.0.0.[200-201]\n", "127.0.0.250\n"})
      CHECK(count_lines_starting(merged, group) == 1);
    CHECK(merged.find("\ngroup 0\nstderr:\nwarn\n") != std::string::npos);
    CHECK(merged.find("\ngroup 0\n(Exited with error code 2)\n") != std::string::npos);

    // A shard missing or given twice is an error, never a quiet partial report.
    CHECK(cli({"--json", "--merge", parts[0], parts[1], parts[3]}, &merged) == 1);
    CHECK(nlohmann::json::parse(merged).size() == 151);
    CHECK(cli({"--merge", parts[0], parts[0]}, &merged) == 1);
    CHECK(cli({"-H", "127.0.0.2", "--shard", "4/4", "true"}) == 2);
  }

  TEST_CASE("-o and -e stream into a file per host and print only pssh's status lines") {
    rig::TempDir dir;
    auto out_dir = dir.path() / "out", err_dir = dir.path() / "err";
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-3]", "-H", "127.0.0.4", "-o", out_dir.string(), "-e", err_dir.string(),
               "case $SSH_CONNECTION in *127.0.0.4*) exit 3;; esac; seq 1 50000; echo warn >&2"},
              &out) == 5);
    INFO(out);
    CHECK(count_lines_starting(out, "[") == 3);
    CHECK(out.find(" [SUCCESS] 127.0.0.2\n") != std::string::npos);
    CHECK(out.find(" [SUCCESS] 127.0.0.3\n") != std::string::npos);
    CHECK(out.find(" [FAILURE] 127.0.0.4 Exited with error code 3\n") != std::string::npos);
    CHECK(out.find("warn") == std::string::npos);
    std::string expected;
    for (int i = 1; i <= 50000; ++i) expected += std::to_string(i) + "\n";
    CHECK(rig::read_file(out_dir / "127.0.0.2") == expected);
    CHECK(rig::read_file(err_dir / "127.0.0.3") == "warn\n");
    // A host that printed nothing still has its files.
    CHECK(std::filesystem::exists(out_dir / "127.0.0.4"));
    CHECK(rig::read_file(err_dir / "127.0.0.4").empty());
  }

  TEST_CASE("a host whose output file cannot be made fails alone; the others are written whole") {
    rig::TempDir dir;
    std::filesystem::create_directories(dir.path() / "out" / "127.0.0.2");  // in the way of the file
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-3]", "-o", (dir.path() / "out").string(), "echo hi; sleep 0.5; echo there"},
              &out) == 1);
    INFO(out);
    CHECK(out.find(" [FAILURE] 127.0.0.2 cannot create ") != std::string::npos);
    CHECK(out.find(" [SUCCESS] 127.0.0.3\n") != std::string::npos);
    CHECK(rig::read_file(dir.path() / "out" / "127.0.0.3") == "hi\nthere\n");
  }

  TEST_CASE("two hosts of one name get distinct files: NAME.N, N their place in the list") {
    rig::TempDir dir;
    CHECK(cli({"-H", "127.0.0.2", "-H", "127.0.0.3", "-H", "127.0.0.2", "-o", dir.path().string(),
               "echo $SSH_CONNECTION | cut -d' ' -f3"}) == 0);
    CHECK(rig::read_file(dir.path() / "127.0.0.2.1") == "127.0.0.2\n");
    CHECK(rig::read_file(dir.path() / "127.0.0.3") == "127.0.0.3\n");
    CHECK(rig::read_file(dir.path() / "127.0.0.2.3") == "127.0.0.2\n");
    CHECK_FALSE(std::filesystem::exists(dir.path() / "127.0.0.2"));
  }

  TEST_CASE("-i prints a block per host: status line, output, then Stderr:") {
    std::string out;
    CHECK(cli({"-H", "127.0.0.2", "-i", "printf 'a\\nb'; echo oops >&2; exit 4"}, &out) == 5);
    CHECK(out.find(" [FAILURE] 127.0.0.2 Exited with error code 4\na\nb\nStderr: oops\n") !=
          std::string::npos);
  }

  TEST_CASE("a long line stays one line in every mode, whatever the cap in memory") {
    // 300 KB without a newline, ten times what a host keeps in memory.
    std::string command = "head -c 300000 /dev/zero | tr '\\0' a; echo; echo next";
    std::string long_line(300000, 'a');
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-3]", command}, &out) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3"}) {
      CHECK(out.find(std::string(host) + ": " + long_line + "\n") != std::string::npos);
      CHECK(out.find(std::string(host) + ": next\n") != std::string::npos);
    }
    CHECK(out.size() == 2 * (11 + long_line.size() + 1 + 11 + 5));
    CHECK(cli({"-H", "127.0.0.2", "-i", command}, &out) == 0);
    CHECK(out.find("[SUCCESS] 127.0.0.2\n" + long_line + "\nnext\n") != std::string::npos);
    // A last line without a newline is printed as a line.
    CHECK(cli({"-H", "127.0.0.2", "printf tail"}, &out) == 0);
    CHECK(out == "127.0.0.2: tail\n");
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
    CHECK(out.find("\n127.0.0.[5-6],seven\n") != std::string::npos);
  }

  TEST_CASE("--inventory under the command line: -x, -F and -p apply, and the inventory's pool_size stays") {
    rig::TempDir dir;
    auto lock = dir.path() / "lock";
    auto inventory = (dir.path() / "inventory.json").string();
    // No key, port or known_hosts in the inventory: cli_argv's -F, -p and -x give them.
    rig::write_file(inventory, R"({"defaults": {"pool_size": 1}, "hosts": ["127.0.0.[2-4]", )"
                               R"({"host": "127.0.0.5", "alias": "five"}]})");
    // Every host is this machine: a host that finds the lock taken ran
    // beside another, which pool_size 1 forbids.
    std::string command = "mkdir " + lock.string() + " 2>/dev/null || echo overlap; sleep " +
                          std::to_string(0.5 * slowdown) + "; rmdir " + lock.string() + " 2>/dev/null; echo done";
    std::string out;
    CHECK(cli({"--inventory", inventory, "-b", command}, &out) == 0);
    INFO(out);
    CHECK(out.find("overlap") == std::string::npos);
    CHECK(out.find("127.0.0.[2-4],five\n") != std::string::npos);
    // The same hosts with -P 4 do overlap: the check above can fail.
    CHECK(cli({"--inventory", inventory, "-P", "4", "-b", command}, &out) == 0);
    CHECK(out.find("overlap") != std::string::npos);
  }

  TEST_CASE("--copy to an aliased host reports it by its alias") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "app.conf", "x=1\n");
    auto inventory = (dir.path() / "inventory.json").string();
    rig::write_file(inventory, R"({"hosts": [{"host": "127.0.0.2", "alias": "two"}, "127.0.0.3"]})");
    std::string out;
    CHECK(cli({"--inventory", inventory, "--copy", (dir.path() / "app.conf").string(),
               (dir.path() / "copied" / "app.conf").string()},
              &out) == 0);
    CHECK(out == "two: OK\n127.0.0.3: OK\n");
    CHECK(rig::read_file(dir.path() / "copied" / "app.conf") == "x=1\n");
  }

  TEST_CASE("-A: sudo's password from PSSH_ASKPASS answers every host's sudo; -A needs --sudo") {
    rig::SudoUser user;
    rig::TempDir dir;
    auto inventory = (dir.path() / "inventory.json").string();
    rig::write_file(inventory, R"({"defaults": {"user": ")" + user.name() + R"(", "password": ")" +
                                   user.password() + R"(", "port": )" + std::to_string(server().port()) +
                                   R"(, "known_hosts": ")" + server().known_hosts().string() +
                                   R"(", "ssh_config": null, "system_ssh_config": null,)" +
                                   R"( "allow_agent": false, "identity_auth": false, "num_retries": 0},)" +
                                   R"( "hosts": ["127.0.0.[2-4]"]})");
    // The program prints the password from a file: it is in no argument list.
    auto secret = dir.path() / "secret";
    rig::write_file(secret, user.password() + "\n");
    auto askpass = dir.path() / "askpass";
    rig::write_file(askpass, "#!/bin/sh\ncat '" + secret.string() + "'\n");
    std::filesystem::permissions(askpass, std::filesystem::perms::owner_all);
    const char* binary = std::getenv("PSSH_CLI");
    REQUIRE(binary != nullptr);
    auto pssh_cmd = [&](std::vector<std::string> args, std::string program, std::string& out) {
      std::vector<std::string> argv{binary, "--inventory", inventory, "--no-stdin"};
      argv.insert(argv.end(), args.begin(), args.end());
      return rig::run(argv, &out, {"PSSH_ASKPASS=" + program});
    };
    std::string out;
    CHECK(pssh_cmd({"--sudo", "-A", "whoami; echo err >&2"}, askpass.string(), out) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"})
      CHECK(out.find(std::string(host) + ": root\n") != std::string::npos);
    CHECK(out.find("pssh-sudo") == std::string::npos);
    CHECK(pssh_cmd({"--sudo", "--askpass", "--pty", "--json", "whoami"}, askpass.string(), out) == 0);
    auto j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 3);
    for (const auto& host : j) CHECK(host["stdout"] == "root\n");
    // Without the password sudo's prompt ends each host: an authentication error.
    CHECK(pssh_cmd({"--sudo", "--json", "whoami"}, "", out) == 4);
    j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 3);
    CHECK(j[0]["error_type"] == "SudoError");
    CHECK(pssh_cmd({"-A", "whoami"}, askpass.string(), out) == 2);
    CHECK(pssh_cmd({"--sudo", "-A", "whoami"}, "false", out) == 1);
  }

  TEST_CASE("a DNS server that never answers is a Timeout within ConnectTimeout, not the resolver's own wait" *
            doctest::skip(::geteuid() != 0) *
            doctest::description("needs root: port 53, and a mount namespace for a private resolv.conf")) {
    // The CLI runs in a mount namespace of its own, whose resolv.conf names a
    // UDP socket that never answers, on an address of this process's own:
    // another run of the suite may hold port 53 of another.
    const std::string nameserver =
        "127.53." + std::to_string(::getpid() >> 8 & 0xff) + "." + std::to_string(::getpid() & 0xff);
    int dns = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(53);
    ::inet_pton(AF_INET, nameserver.c_str(), &address.sin_addr);
    int bound = ::bind(dns, reinterpret_cast<sockaddr*>(&address), sizeof address);
    const std::string bind_error = bound == 0 ? "" : std::strerror(errno);
    REQUIRE_MESSAGE(bound == 0, "binding " << nameserver << ":53: " << bind_error);
    std::string probe;
    REQUIRE_MESSAGE(rig::run({"unshare", "-m", "true"}, &probe) == 0, "unshare -m: " << probe);
    rig::TempDir dir;
    auto resolv = dir.path() / "resolv.conf";
    rig::write_file(resolv, "nameserver " + nameserver + "\noptions timeout:30 attempts:1\n");
    std::vector<std::string> private_resolv{
        "unshare", "-m", "sh", "-c", "mount --bind \"$0\" /etc/resolv.conf && exec \"$@\"",
        resolv.string()};
    std::string out;
    auto start = std::chrono::steady_clock::now();
    CHECK(cli({"-H", "web1.pssh-test.example", "-x", "ConnectTimeout=1", "--json", "true"}, &out,
              private_resolv) == 3);
    CHECK(seconds_since(start) < 5 * slowdown);  // the resolver alone would wait 30 s
    ::close(dns);
    auto j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 1);
    CHECK(j[0]["error_type"] == "Timeout");
    CHECK(j[0]["error"].get<std::string>().find("DNS server did not answer") != std::string::npos);
  }

  TEST_CASE("-p and -H read a port as the library does: a usage error saying what is wrong") {
    const std::vector<std::string> with_stderr{"sh", "-c", "\"$@\" 2>&1", "sh"};
    std::string out;
    CHECK(cli({"-p", "22.5", "-H", "127.0.0.2", "true"}, &out, with_stderr) == 2);
    CHECK(out == "pssh: -p: ssh option 'Port=22.5': port 22.5: '22.5' is not a port number (1-65535)\n");
    CHECK(cli({"-H", "127.0.0.2:http", "true"}, &out, with_stderr) == 2);
    CHECK(out == "pssh: host entry '127.0.0.2:http': 'http' is not a port number (1-65535); "
                 "write [user@]host[:port]\n");
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

namespace {

struct MeasuredRun {
  int status = -1;
  long peak_rss_kib = 0;
};

/// Runs the CLI with its stdout in `stdout_file`, reading its peak RSS
/// (VmHWM) from /proc while it runs.
MeasuredRun run_measured(const std::vector<std::string>& args, const std::filesystem::path& stdout_file) {
  std::vector<std::string> argv{"sh", "-c", "exec \"$@\" > \"$0\"", stdout_file.string()};
  for (auto& arg : cli_argv(args)) argv.push_back(std::move(arg));
  pid_t pid = rig::spawn(argv);
  MeasuredRun run;
  std::string status_path = "/proc/" + std::to_string(pid) + "/status";
  for (int wstatus = 0;;) {
    std::ifstream status(status_path);
    for (std::string line; std::getline(status, line);)
      if (line.rfind("VmHWM:", 0) == 0) run.peak_rss_kib = std::max(run.peak_rss_kib, std::stol(line.substr(6)));
    if (::waitpid(pid, &wstatus, WNOHANG) == pid) {
      run.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
      return run;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// `size` bytes of `file` from `offset`.
std::string read_at(const std::filesystem::path& file, std::uintmax_t offset, std::size_t size) {
  std::ifstream in(file, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  bytes.resize(static_cast<std::size_t>(in.gcount()));
  return bytes;
}

}  // namespace

// 1 GiB from one host, as one line without a newline (the worst shape for
// line handling), through each output mode: the CLI's memory stays bounded.
TEST_SUITE("cli_load") {
  TEST_CASE("1 GiB from one host: -o, -i and the default mode stay under 32 MiB") {
    const std::uintmax_t size = 1ull << 30;
    const std::string command = "head -c " + std::to_string(size) + " /dev/zero | tr '\\0' a";
    const long limit_kib = 32 * 1024;
    rig::TempDir dir;
    auto printed = dir.path() / "stdout";
    const std::string host = "127.0.0.2";

    SUBCASE("-o") {
      auto run = run_measured({"-H", host, "-o", (dir.path() / "out").string(), command}, printed);
      CHECK(run.status == 0);
      MESSAGE("-o: peak RSS " << run.peak_rss_kib << " KiB");
      CHECK(run.peak_rss_kib < limit_kib);
      CHECK(std::filesystem::file_size(dir.path() / "out" / host) == size);
      CHECK(read_at(dir.path() / "out" / host, size - 4, 8) == "aaaa");
      CHECK(rig::read_file(printed).find("[SUCCESS] " + host + "\n") != std::string::npos);
    }
    SUBCASE("-i") {
      auto run = run_measured({"-H", host, "-i", command}, printed);
      CHECK(run.status == 0);
      MESSAGE("-i: peak RSS " << run.peak_rss_kib << " KiB");
      CHECK(run.peak_rss_kib < limit_kib);
      std::string status_line = read_at(printed, 0, 64);
      status_line = status_line.substr(0, status_line.find('\n') + 1);
      CHECK(status_line.find("[SUCCESS] " + host + "\n") != std::string::npos);
      CHECK(std::filesystem::file_size(printed) == status_line.size() + size + 1);
      CHECK(read_at(printed, status_line.size() + size - 4, 8) == "aaaa\n");
    }
    SUBCASE("default: host: line") {
      auto run = run_measured({"-H", host, command}, printed);
      CHECK(run.status == 0);
      MESSAGE("default: peak RSS " << run.peak_rss_kib << " KiB");
      CHECK(run.peak_rss_kib < limit_kib);
      CHECK(std::filesystem::file_size(printed) == host.size() + 2 + size + 1);
      CHECK(read_at(printed, 0, host.size() + 4) == host + ": aa");
      CHECK(read_at(printed, host.size() + 2 + size - 4, 8) == "aaaa\n");
    }
  }
}
