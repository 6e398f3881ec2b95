// The pssh command-line tool against the suite's sshd: output modes, exit
// statuses, usage errors. PSSH_CLI names the binary (set by meson).
#include "common.hpp"

#include <pssh/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace {

/// The CLI's command line with the suite's key and known_hosts.
std::vector<std::string> cli_argv(const std::vector<std::string>& args, const std::string& program = "pssh") {
  auto options = server().options();
  // -F: the rig's empty config alone, never the machine's /etc/ssh/ssh_config.
  std::vector<std::string> argv{cli_program(program).string(), "-F", *options.ssh_config, "--port",
                                std::to_string(server().port()), "-O", "IdentityFile=" + options.pkey->path(),
                                "-O", "UserKnownHostsFile=" + *options.known_hosts, "-O", "ConnectionAttempts=1"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

/// Runs the CLI (started by the `wrapper` command, if any); returns its status.
int cli(std::vector<std::string> args, std::string* out = nullptr,
        std::vector<std::string> wrapper = {}, const std::string& program = "pssh") {
  std::vector<std::string> argv = std::move(wrapper);
  for (auto& arg : cli_argv(args, program)) argv.push_back(std::move(arg));
  std::string ignored;
  return rig::run(argv, out != nullptr ? out : &ignored);
}

/// Lines of `text` that hold `part`.
std::size_t count_lines_containing(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = std::min(text.find('\n', at), text.size());
    count += text.substr(at, end - at).find(part) != std::string::npos;
    at = end + 1;
  }
  return count;
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
  TEST_CASE("status lines by default; -P streams lines as host: line; all good is status 0") {
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-4]", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, " [SUCCESS] 127.0.0.") == 3);
    CHECK(out.find("hi") == std::string::npos);
    CHECK(cli({"-H", "127.0.0.[2-4]", "-P", "echo hi"}, &out) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
      CHECK(out.find(std::string(host) + ": hi\n") != std::string::npos);
      CHECK(out.find(" [SUCCESS] " + std::string(host) + "\n") != std::string::npos);
    }
  }

  TEST_CASE("Ctrl-C cancels every host: each reports Interrupted, status 3, and --failed is still written") {
    rig::TempDir dir;
    auto printed = dir.path() / "printed", failed = dir.path() / "failed";
    std::vector<std::string> argv{"sh", "-c", "exec \"$@\" > \"$0\"", printed.string()};
    auto started = dir.path() / "started";
    std::filesystem::create_directories(started);
    for (auto& arg : cli_argv({"-H", "127.0.0.[2-3]", "--failed", failed.string(), "-t", "0",
                               "touch " + (started / "$$").string() + "; sleep 60"}))
      argv.push_back(std::move(arg));
    pid_t pid = rig::spawn(argv);
    auto entries = [&] { return std::distance(std::filesystem::directory_iterator(started), {}); };
    REQUIRE(eventually([&] { return entries() == 2; }));  // both commands run
    auto start = std::chrono::steady_clock::now();
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    CHECK(seconds_since(start) < 10 * slowdown);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 3);
    std::string out = rig::read_file(printed);
    CHECK(count_lines_containing(out, " Interrupted") == 2);
    CHECK(rig::read_file(failed) == "127.0.0.2\n127.0.0.3\n");

    // Ignored by the caller (trap '' INT, as nohup does for HUP): it stays ignored.
    std::filesystem::remove_all(started);
    std::filesystem::create_directories(started);
    argv = {"sh", "-c", "trap '' INT; exec \"$@\" > \"$0\"", printed.string()};
    for (auto& arg : cli_argv({"-H", "127.0.0.2", "-t", "0", "touch " + (started / "$$").string() + "; sleep 1; echo done"}))
      argv.push_back(std::move(arg));
    pid = rig::spawn(argv);
    REQUIRE(eventually([&] { return entries() == 1; }));
    ::kill(pid, SIGINT);
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(rig::read_file(printed).find(" [SUCCESS] 127.0.0.2\n") != std::string::npos);
  }

  TEST_CASE("stdin: -I sends a pipe to every host; without it an open pipe is never read") {
    std::string out;
    auto through = [](const std::string& shell) {
      return std::vector<std::string>{"timeout", "30", "sh", "-c", shell, "sh"};
    };
    CHECK(cli({"-H", "127.0.0.[2-3]", "-I", "-P", "cat"}, &out, through("printf 'one\\ntwo\\n' | \"$@\"")) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3"}) {
      CHECK(out.find(std::string(host) + ": one\n") != std::string::npos);
      CHECK(out.find(std::string(host) + ": two\n") != std::string::npos);
    }
    // -I without a command: the script on stdin is the login shell's input.
    CHECK(cli({"-H", "127.0.0.2", "-I", "-P"}, &out, through("echo 'echo from-script' | \"$@\"")) == 0);
    CHECK(out.find("127.0.0.2: from-script\n") != std::string::npos);
    // An open pipe that never ends is not read without -I.
    CHECK(cli({"-H", "127.0.0.2", "-P", "cat; echo done"}, &out,
              through("sleep 60 | { \"$@\"; status=$?; pkill -P $$ -x sleep; exit $status; }")) == 0);
    CHECK(out.find("127.0.0.2: done\n") != std::string::npos);
  }

  TEST_CASE("exit statuses as pssh 2.3's: 5 non-zero, 4 ssh's 255, 3 timeout, 2 usage, 1 no hosts file") {
    CHECK(cli({"-H", "127.0.0.2", "exit 7"}) == 5);
    CHECK(cli({"-H", "127.0.0.2", "-H", "127.0.0.3:" + std::to_string(rig::refused_port()), "true"}) == 4);
    CHECK(cli({"-H", "127.0.0.2", "exit 255"}) == 4);
    CHECK(cli({"-H", "127.0.0.2", "kill -9 $$"}) == 4);
    CHECK(cli({"-H", "127.0.0.2", "-t", "1", "sleep 10"}) == 3);
    // The first of 3, 4, 5 that holds.
    CHECK(cli({"-H", "127.0.0.[2-3]", "-t", "2", "case $SSH_CONNECTION in *'127.0.0.2 '*) sleep 10;; *) exit 255;; esac"}) == 3);
    CHECK(cli({"-H", "127.0.0.[2-3]", "case $SSH_CONNECTION in *'127.0.0.2 '*) exit 1;; *) exit 255;; esac"}) == 4);
    CHECK(cli({"echo no hosts"}) == 2);
    CHECK(cli({"-H", "127.0.0.2"}) == 2);
    CHECK(cli({"-H", "127.0.0.2", "--bogus", "true"}) == 2);
    CHECK(cli({"-h", "/no/such/hosts", "true"}) == 1);
    CHECK(cli({"-h", "/", "true"}) == 1);  // a directory is no hosts file
    // A list that comes out empty is a run of no hosts, as in pssh 2.3.
    rig::TempDir dir;
    rig::write_file(dir.path() / "empty", "# nobody\n");
    CHECK(cli({"-h", (dir.path() / "empty").string(), "true"}) == 0);
    CHECK(cli({"-H", "127.0.0.2", "-g", "nomatch*", "-h", (dir.path() / "empty").string(), "true"}) == 0);
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

  TEST_CASE("--diff shows each output against the one most hosts gave, hunk for hunk as diff -u does") {
    // 127.0.0.6 changes a line; 127.0.0.7 drops one and adds one.
    std::string command = "seq 1 20 | case $SSH_CONNECTION in *'127.0.0.6 '*) sed s/^5$/five/;; "
                          "*'127.0.0.7 '*) sed /^15$/d; echo end;; *) cat;; esac";
    std::string out;
    CHECK(cli({"-H", "127.0.0.[2-7]", "--diff", command}, &out) == 0);
    rig::TempDir dir;
    std::string common;
    for (int i = 1; i <= 20; ++i) common += std::to_string(i) + "\n";
    std::string six = common, seven = common;
    six.replace(six.find("\n5\n") + 1, 1, "five");
    seven.erase(seven.find("\n15\n") + 1, 3);
    seven += "end\n";
    auto hunks = [&](const std::string& other) {
      rig::write_file(dir.path() / "common", common);
      rig::write_file(dir.path() / "other", other);
      std::string diff;
      CHECK(rig::run({"diff", "-u", (dir.path() / "common").string(), (dir.path() / "other").string()}, &diff) == 1);
      return diff.substr(diff.find("@@"));  // diff's own header names files and times
    };
    CHECK(out == "--- 127.0.0.[2-5] (4)\n+++ 127.0.0.6\n" + hunks(six) + "--- 127.0.0.[2-5] (4)\n+++ 127.0.0.7\n" +
                     hunks(seven));
    CHECK(cli({"-H", "127.0.0.[2-4]", "--diff", "echo same"}, &out) == 0);
    CHECK(out.empty());
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
    CHECK(cli({"-h", failed.string(), "-P", "echo again"}, &out) == 4);
    CHECK(count_lines_containing(out, ": again") == 2);  // in either order
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
    // A host that printed nothing has no file, as with pssh 2.3.
    CHECK_FALSE(std::filesystem::exists(out_dir / "127.0.0.4"));
    CHECK_FALSE(std::filesystem::exists(err_dir / "127.0.0.4"));
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
    // The same where the files are written at the host's end (-b, --json).
    CHECK(cli({"-H", "127.0.0.[2-3]", "-o", (dir.path() / "out").string(), "-b", "echo hi"}, &out) == 1);
    CHECK(out.find("hi") != std::string::npos);
  }

  TEST_CASE("a host named again gets NAME.1, NAME.2, as pssh 2.3 names them; user@ and :port are kept") {
    rig::TempDir dir;
    std::string port = std::to_string(server().port());
    std::string me = rig::current_user();
    std::string out;
    CHECK(cli({"-H", "127.0.0.2", "-H", "127.0.0.3", "-H", "127.0.0.2 127.0.0.2", "-H", me + "@127.0.0.4:" + port,
               "-o", dir.path().string(), "echo $SSH_CONNECTION | cut -d' ' -f3"},
              &out) == 0);
    CHECK(rig::read_file(dir.path() / "127.0.0.2") == "127.0.0.2\n");
    CHECK(rig::read_file(dir.path() / "127.0.0.3") == "127.0.0.3\n");
    CHECK(rig::read_file(dir.path() / "127.0.0.2.1") == "127.0.0.2\n");
    CHECK(rig::read_file(dir.path() / "127.0.0.2.2") == "127.0.0.2\n");
    CHECK(rig::read_file(dir.path() / (me + "@127.0.0.4:" + port)) == "127.0.0.4\n");
    CHECK(out.find(" [SUCCESS] " + me + "@127.0.0.4:" + port + "\n") != std::string::npos);
    // A user that -l names too is not shown.
    CHECK(cli({"-l", me, "-H", me + "@127.0.0.4", "true"}, &out) == 0);
    CHECK(out.find(" [SUCCESS] 127.0.0.4\n") != std::string::npos);
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
    CHECK(cli({"-H", "127.0.0.[2-3]", "-P", command}, &out) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3"}) {
      CHECK(out.find(std::string(host) + ": " + long_line + "\n") != std::string::npos);
      CHECK(out.find(std::string(host) + ": next\n") != std::string::npos);
      CHECK(count_lines_starting(out, std::string(host) + ": ") == 2);
    }
    CHECK(cli({"-H", "127.0.0.2", "-i", command}, &out) == 0);
    CHECK(out.find("[SUCCESS] 127.0.0.2\n" + long_line + "\nnext\n") != std::string::npos);
    // A last line without a newline is printed as a line.
    CHECK(cli({"-H", "127.0.0.2", "-P", "printf tail"}, &out) == 0);
    CHECK(out.starts_with("127.0.0.2: tail\n"));
  }

  TEST_CASE("a progress line is drawn on a terminal and never in a pipe") {
    std::string piped;
    CHECK(cli({"-H", "127.0.0.[2-3]", "sleep 0.3"}, &piped) == 0);
    CHECK(piped.find("done,") == std::string::npos);
    // script(1) gives the command a terminal and copies what it drew.
    std::string command;
    for (const auto& arg : cli_argv({"-H", "127.0.0.[2-3]", "sleep 0.3"})) command += pssh::shell_quote(arg) + " ";
    std::string drawn;
    CHECK(rig::run({"script", "-qec", command, "/dev/null"}, &drawn) == 0);
    CHECK(drawn.find("[0/2 done, 0 failed, 2 running]") != std::string::npos);
  }

  TEST_CASE("pscp copies as scp: into an existing directory, -r for a tree, several sources; pslurp to -L DIR/HOST/NAME") {
    rig::TempDir dir;
    auto local = dir.path() / "local", remote = dir.path() / "remote";
    std::filesystem::create_directories(local / "tree" / "sub");
    rig::write_file(local / "app.conf", "x=1\n");
    rig::write_file(local / "tree" / "sub" / "deep.txt", "deep\n");
    std::filesystem::create_directories(remote / "existing");
    std::string out;
    auto pscp = [&](std::vector<std::string> args) { return cli(std::move(args), &out, {}, "pscp"); };
    CHECK(pscp({"-H", "127.0.0.[2-3]", (local / "app.conf").string(), (remote / "existing").string()}) == 0);
    CHECK(count_lines_containing(out, " [SUCCESS] 127.0.0.") == 2);
    CHECK(rig::read_file(remote / "existing" / "app.conf") == "x=1\n");
    CHECK(pscp({"-H", "127.0.0.2", (local / "app.conf").string(), (remote / "renamed.conf").string()}) == 0);
    CHECK(rig::read_file(remote / "renamed.conf") == "x=1\n");
    CHECK(pscp({"-H", "127.0.0.2", "-r", (local / "tree").string(), (remote / "existing").string()}) == 0);
    CHECK(rig::read_file(remote / "existing" / "tree" / "sub" / "deep.txt") == "deep\n");
    CHECK(pscp({"-H", "127.0.0.2", "-r", (local / "tree").string(), (remote / "copy").string()}) == 0);
    CHECK(rig::read_file(remote / "copy" / "sub" / "deep.txt") == "deep\n");
    CHECK(pscp({"-H", "127.0.0.2", (local / "app.conf").string(), (local / "tree" / "sub" / "deep.txt").string(),
                (remote / "both").string()}) == 0);
    CHECK(rig::read_file(remote / "both" / "app.conf") == "x=1\n");
    CHECK(rig::read_file(remote / "both" / "deep.txt") == "deep\n");
    // A source named with a trailing slash keeps its name, as with scp.
    CHECK(pscp({"-H", "127.0.0.2", "-r", (local / "tree").string() + "/", (remote / "existing").string() + "/"}) == 0);
    CHECK(std::filesystem::exists(remote / "existing" / "tree" / "sub" / "deep.txt"));
    // A missing source, a pipe, or a directory without -r is refused before
    // any host is touched (no source is copied); a refused copy is pscp's 4.
    CHECK(pscp({"-H", "127.0.0.2", (local / "app.conf").string(), (local / "missing").string(),
                (remote / "partial").string()}) == 1);
    CHECK(::mkfifo((local / "fifo").c_str(), 0600) == 0);
    CHECK(pscp({"-H", "127.0.0.2", (local / "app.conf").string(), (local / "fifo").string(),
                (remote / "partial").string()}) == 1);
    CHECK_FALSE(std::filesystem::exists(remote / "partial"));
    CHECK(pscp({"-H", "127.0.0.2", (local / "tree").string(), (remote / "no").string()}) == 1);
    CHECK_FALSE(std::filesystem::exists(remote / "no"));
    CHECK(pscp({"-H", "127.0.0.2", (local / "app.conf").string(), "/proc/no/such/dir"}) == 4);
    CHECK(out.find(" [FAILURE] 127.0.0.2 ") != std::string::npos);

    auto pslurp = [&](std::vector<std::string> args) { return cli(std::move(args), &out, {}, "pslurp"); };
    CHECK(pslurp({"-H", "127.0.0.[2-3]", "-L", (dir.path() / "back").string(), (remote / "renamed.conf").string(),
                  "mine.conf"}) == 0);
    CHECK(rig::read_file(dir.path() / "back" / "127.0.0.2" / "mine.conf") == "x=1\n");
    CHECK(rig::read_file(dir.path() / "back" / "127.0.0.3" / "mine.conf") == "x=1\n");
    CHECK(pslurp({"-H", "127.0.0.2", "-L", (dir.path() / "back").string(), "-r", (remote / "copy").string(),
                  "tree"}) == 0);
    CHECK(rig::read_file(dir.path() / "back" / "127.0.0.2" / "tree" / "sub" / "deep.txt") == "deep\n");
    // A missing remote file is scp's exit 1 under pslurp: 5.
    CHECK(pslurp({"-H", "127.0.0.2", "-L", (dir.path() / "x").string(), "/no/such/file", "f"}) == 5);
    // A file that says it is empty (/proc) arrives whole; a pipe is refused, not read as empty.
    CHECK(pslurp({"-H", "127.0.0.2", "-L", (dir.path() / "x").string(), "/proc/self/status", "status"}) == 0);
    CHECK(rig::read_file(dir.path() / "x" / "127.0.0.2" / "status").find("\nPid:") != std::string::npos);
    CHECK(::mkfifo((remote / "fifo").c_str(), 0600) == 0);
    CHECK(pslurp({"-H", "127.0.0.2", "-L", (dir.path() / "x").string(), (remote / "fifo").string(), "f"}) == 5);
    CHECK(out.find("is not a regular file") != std::string::npos);
  }

  TEST_CASE("prsync runs rsync over pssh's connections: -r, -a, -z, -x for rsync; rsync's failures are 4, a timeout 3") {
    rig::TempDir dir;
    auto local = dir.path() / "local", remote = dir.path() / "remote";
    std::filesystem::create_directories(local / "tree" / "sub");
    rig::write_file(local / "tree" / "sub" / "deep.txt", "deep\n");
    rig::write_file(local / "tree" / "skip.tmp", "not wanted\n");
    rig::write_file(local / "tree" / "run.sh", "#!/bin/sh\n");
    std::filesystem::permissions(local / "tree" / "run.sh", std::filesystem::perms(0750));
    std::string big;  // more than any buffer on the way, in both directions of rsync's protocol
    for (std::uint32_t x = 1; big.size() < (12u << 20); x = x * 1664525u + 1013904223u) big.push_back(char(x >> 24));
    rig::write_file(local / "big.bin", big);
    std::filesystem::create_directories(remote);
    std::string out;
    // stderr too: prsync's own errors are there.
    auto prsync = [&](std::vector<std::string> args) {
      return cli(std::move(args), &out, {"sh", "-c", "exec \"$@\" 2>&1", "sh"}, "prsync");
    };

    CHECK(prsync({"-H", "127.0.0.[2-3]", "-r", (local / "tree").string(), (remote / "r").string()}) == 0);
    CHECK(count_lines_containing(out, " [SUCCESS] 127.0.0.") == 2);
    CHECK(rig::read_file(remote / "r" / "tree" / "sub" / "deep.txt") == "deep\n");
    CHECK(prsync({"-H", "127.0.0.2", "-a", "-z", "-x", "--exclude=*.tmp", (local / "tree").string(),
                  (remote / "a").string()}) == 0);
    CHECK(std::filesystem::status(remote / "a" / "tree" / "run.sh").permissions() == std::filesystem::perms(0750));
    CHECK_FALSE(std::filesystem::exists(remote / "a" / "tree" / "skip.tmp"));
    CHECK(prsync({"-H", "127.0.0.[2-4]", "-p", "2", (local / "big.bin").string(), (remote / "big.bin").string()}) == 0);
    CHECK(rig::read_file(remote / "big.bin") == big);
    // Changed in the middle: rsync's delta sends the block back and forth, on every host.
    big[big.size() / 2] ^= 1;
    rig::write_file(local / "big.bin", big);
    CHECK(prsync({"-H", "127.0.0.2", "-o", (dir.path() / "out").string(), "-v", "-x", "--ignore-times",
                  (local / "big.bin").string(), (remote / "big.bin").string()}) == 0);
    CHECK(rig::read_file(remote / "big.bin") == big);
    CHECK(rig::read_file(dir.path() / "out" / "127.0.0.2").find("big.bin") != std::string::npos);  // rsync -v's list

    // rsync's own failure on a host (a missing source) is its status and pssh 2.3's 4; the remote
    // side's message reaches -e.
    CHECK(prsync({"-H", "127.0.0.2", "-e", (dir.path() / "err").string(), (local / "missing").string(),
                  (remote / "m").string()}) == 4);
    CHECK(out.find("[FAILURE] 127.0.0.2 Exited with error code 23") != std::string::npos);
    CHECK(rig::read_file(dir.path() / "err" / "127.0.0.2").find("missing") != std::string::npos);
    CHECK(prsync({"-H", "127.0.0.2", (local / "tree" / "sub" / "deep.txt").string(), "/proc/no/such/dir/x"}) == 4);
    CHECK(rig::read_file(dir.path() / "err" / "127.0.0.2").find("missing") != std::string::npos);
    // A host that cannot be reached says why; a line rsync refuses is refused once, before any host.
    CHECK(prsync({"-H", "127.0.0.2:1", (local / "tree" / "sub" / "deep.txt").string(), (remote / "x").string()}) == 4);
    CHECK(out.find("[FAILURE] 127.0.0.2:1 ") != std::string::npos);
    CHECK(prsync({"-H", "127.0.0.2", "-x", "--no-such-option", (local / "big.bin").string(), (remote / "x").string()}) == 1);
    CHECK(out.find("rsync ended before it started its remote side") != std::string::npos);
    CHECK(prsync({"-H", "127.0.0.2", "-X", "-essh", (local / "big.bin").string(), (remote / "x").string()}) == 2);
    // A remote side that never answers ends at -t, as pssh 2.3 kills its rsync: 3.
    rig::write_file(dir.path() / "slow-rsync", "#!/bin/sh\nsleep 60\nexec rsync \"$@\"\n");
    std::filesystem::permissions(dir.path() / "slow-rsync", std::filesystem::perms(0700));
    auto start = std::chrono::steady_clock::now();
    CHECK(prsync({"-H", "127.0.0.2", "-t", "1", "-x", "--rsync-path=" + (dir.path() / "slow-rsync").string(),
                  (local / "big.bin").string(), (remote / "slow").string()}) == 3);
    INFO(out);
    CHECK(out.find("[FAILURE] 127.0.0.2 Timed out") != std::string::npos);
    CHECK(seconds_since(start) < 20 * slowdown);
  }

  TEST_CASE("prsync: a delta update sends both ways at once and ends; the host's last words reach -e; -t ends a stuck rsync") {
    // 40 files of 3 MB, a quarter of each changed: the host sends its block
    // sums while the new data goes out. (Workers that wrote to rsync could
    // hang here for ever, each side waiting for the other.)
    rig::TempDir dir;
    auto fresh = dir.path() / "new", stale = dir.path() / "host";
    std::filesystem::create_directories(fresh);
    std::filesystem::create_directories(stale);
    std::uint32_t x = 7;
    auto random_bytes = [&](std::size_t size) {
      std::string bytes(size, '\0');
      for (char& c : bytes) c = char((x = x * 1664525u + 1013904223u) >> 24);
      return bytes;
    };
    for (int i = 0; i < 40; ++i) {
      std::string old = random_bytes(3u << 20), changed = old;
      for (std::size_t at = 0; at < changed.size(); at += 128 * 1024) changed.replace(at, 32 * 1024, random_bytes(32 * 1024));
      rig::write_file(stale / ("f" + std::to_string(i)), old);
      rig::write_file(fresh / ("f" + std::to_string(i)), changed);
      // Older on the host: rsync's quick check (size and time) would skip a file of the same second.
      std::filesystem::last_write_time(stale / ("f" + std::to_string(i)),
                                       std::filesystem::file_time_type::clock::now() - std::chrono::hours(1));
    }
    std::string out;
    auto prsync = [&](std::vector<std::string> args) { return cli(std::move(args), &out, {}, "prsync"); };
    CHECK(prsync({"-H", "127.0.0.2", "-t", std::to_string(120 * slowdown), "-a", fresh.string() + "/", stale.string()}) == 0);
    INFO(out);
    for (int i = 0; i < 40; i += 13) {
      std::string name = "f" + std::to_string(i);
      CHECK((rig::read_file(stale / name) == rig::read_file(fresh / name)));
    }

    // rsync ends as soon as the host reports its error: the message still reaches -e, every time.
    for (int round = 0; round < 3; ++round) {
      auto err = dir.path() / ("err" + std::to_string(round));
      CHECK(prsync({"-H", "127.0.0.[2-4]", "-r", "-e", err.string(), fresh.string(), "/proc/no/such/dir/x"}) == 4);
      for (const char* host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
        INFO(host << " in round " << round);
        std::string text = rig::read_file(err / host);
        CHECK(text.find("mkdir") != std::string::npos);   // the host's rsync's message
        CHECK(text.find("rsync error") != std::string::npos);
      }
    }

    // A local rsync that stops (SIGSTOP) does not hold prsync past -t: its process group is killed.
    rig::write_file(dir.path() / "slow-rsync", "#!/bin/sh\nsleep 60\nexec rsync \"$@\"\n");
    std::filesystem::permissions(dir.path() / "slow-rsync", std::filesystem::perms(0700));
    auto start = std::chrono::steady_clock::now();
    // The host's side sleeps, so -t ends it; prsync's rsync is stopped meanwhile.
    CHECK(cli({"-H", "127.0.0.2", "-t", "2", "-x", "--rsync-path=" + (dir.path() / "slow-rsync").string(),
               (fresh / "f0").string(), (dir.path() / "slow").string()},
              &out, {"sh", "-c", "\"$@\" & p=$!; sleep 1; pkill -STOP -x rsync -P $p; wait $p", "sh"}, "prsync") == 3);
    CHECK(out.find("[FAILURE] 127.0.0.2 Timed out") != std::string::npos);
    CHECK(seconds_since(start) < 20 * slowdown);
    std::string leftovers;  // neither that rsync nor its bridge
    CHECK(rig::run({"pgrep", "-f", "prsync:" + (dir.path() / "slow").string() + "|rsync-bridge.*" + dir.path().string()},
                   &leftovers) == 1);
    CHECK(leftovers.empty());

    // An interrupt (TERM: a background job of sh ignores INT) ends an rsync that is stuck after its
    // host's command ended, at the first signal.
    rig::write_file(dir.path() / "no-rsync", "#!/bin/sh\nsleep 2\nexit 0\n");
    std::filesystem::permissions(dir.path() / "no-rsync", std::filesystem::perms(0700));
    start = std::chrono::steady_clock::now();
    CHECK(cli({"-H", "127.0.0.2", "-x", "--rsync-path=" + (dir.path() / "no-rsync").string(), (fresh / "f0").string(),
               (dir.path() / "stuck").string()},
              &out, {"sh", "-c", "\"$@\" & p=$!; sleep 1; pkill -STOP -x rsync -P $p; sleep 3; kill -TERM $p; wait $p", "sh"},
              "prsync") == 3);
    CHECK(seconds_since(start) < 20 * slowdown);
    // A program that ignores SIGCHLD and runs prsync: rsync's failure is still seen (the kernel would reap it).
    CHECK(cli({"-H", "127.0.0.2", (fresh / "f0").string(), "/proc/no/such/dir/x"}, &out,
              {"sh", "-c", "trap '' CHLD; exec \"$@\"", "sh"}, "prsync") == 4);

    // rsync's options go in -x: prsync has no --exclude of its own, and no other remote shell.
    CHECK(prsync({"-H", "127.0.0.2", "--exclude=*.tmp", fresh.string(), "/tmp/x"}) == 2);
    CHECK(prsync({"-H", "127.0.0.2", "-x", "-ve ssh", fresh.string(), "/tmp/x"}) == 2);
    CHECK(prsync({"-H", "127.0.0.2", "-x", "-vT" + dir.path().string(), "-x", "--exclude=-e", (fresh / "f0").string(),
                  (dir.path() / "t").string()}) == 0);
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

  TEST_CASE("--inventory under the command line: -O, -F and --port apply, and the inventory's pool_size stays") {
    rig::TempDir dir;
    auto lock = dir.path() / "lock";
    auto inventory = (dir.path() / "inventory.json").string();
    // No key, port or known_hosts in the inventory: cli_argv's -F, --port and -O give them.
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
    // The same hosts with -p 4 do overlap: the check above can fail.
    CHECK(cli({"--inventory", inventory, "-p", "4", "-b", command}, &out) == 0);
    CHECK(out.find("overlap") != std::string::npos);
  }

  TEST_CASE("pscp and pslurp of an aliased host report it by its alias") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "app.conf", "x=1\n");
    auto inventory = (dir.path() / "inventory.json").string();
    rig::write_file(inventory, R"({"hosts": [{"host": "127.0.0.2", "alias": "two"}, "127.0.0.3"]})");
    std::string out;
    CHECK(cli({"--inventory", inventory, (dir.path() / "app.conf").string(), (dir.path() / "copied" / "app.conf").string()},
              &out, {}, "pscp") == 0);
    CHECK(out.find(" [SUCCESS] two\n") != std::string::npos);
    CHECK(out.find(" [SUCCESS] 127.0.0.3\n") != std::string::npos);
    CHECK(rig::read_file(dir.path() / "copied" / "app.conf") == "x=1\n");
    CHECK(cli({"--inventory", inventory, "-L", (dir.path() / "back").string(), (dir.path() / "app.conf").string(), "a"},
              &out, {}, "pslurp") == 0);
    CHECK(rig::read_file(dir.path() / "back" / "two" / "a") == "x=1\n");
  }

  TEST_CASE("-A: the password from SSH_ASKPASS logs in, and answers every host's sudo with --sudo") {
    rig::SudoUser user;
    rig::TempDir dir;
    // The login's password in one inventory, in none in the other: -A gives it.
    auto inventory_of = [&](const std::string& name, const std::string& password) {
      auto path = (dir.path() / name).string();
      rig::write_file(path, R"({"defaults": {"user": ")" + user.name() + R"(", )" + password + R"("port": )" +
                                std::to_string(server().port()) + R"(, "known_hosts": ")" +
                                server().known_hosts().string() +
                                R"(", "ssh_config": null, "system_ssh_config": null,)" +
                                R"( "allow_agent": false, "identity_auth": false, "num_retries": 0},)" +
                                R"( "hosts": ["127.0.0.[2-4]"]})");
      return path;
    };
    auto with_password = inventory_of("with-password.json", R"("password": ")" + user.password() + R"(", )");
    auto inventory = inventory_of("inventory.json", "");
    // The program prints the password from a file: it is in no argument list.
    auto secret = dir.path() / "secret";
    rig::write_file(secret, user.password() + "\n");
    auto askpass = dir.path() / "askpass";
    rig::write_file(askpass, "#!/bin/sh\ncat '" + secret.string() + "'\n");
    std::filesystem::permissions(askpass, std::filesystem::perms::owner_all);
    const char* binary = std::getenv("PSSH_CLI");
    REQUIRE(binary != nullptr);
    auto pssh_cmd = [&](const std::string& inventory, std::vector<std::string> args, std::string program,
                        std::string& out) {
      std::vector<std::string> argv{binary, "--inventory", inventory};
      argv.insert(argv.end(), args.begin(), args.end());
      return rig::run(argv, &out, {"SSH_ASKPASS=" + program, "SSH_ASKPASS_REQUIRE=force"});
    };
    std::string out;
    CHECK(pssh_cmd(inventory, {"-P", "whoami"}, askpass.string(), out) == 4);  // no password: no login
    CHECK(pssh_cmd(inventory, {"-A", "-P", "whoami"}, askpass.string(), out) == 0);
    CHECK(out.find("127.0.0.2: " + user.name() + "\n") != std::string::npos);
    CHECK(pssh_cmd(inventory, {"--sudo", "-A", "-P", "whoami; echo err >&2"}, askpass.string(), out) == 0);
    for (const char* host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"})
      CHECK(out.find(std::string(host) + ": root\n") != std::string::npos);
    CHECK(out.find("pssh-sudo") == std::string::npos);
    CHECK(pssh_cmd(inventory, {"--sudo", "--askpass", "--pty", "--json", "whoami"}, askpass.string(), out) == 0);
    auto j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 3);
    for (const auto& host : j) CHECK(host["stdout"] == "root\n");
    // Without the password sudo's prompt ends each host: an authentication error.
    CHECK(pssh_cmd(with_password, {"--sudo", "--json", "whoami"}, "", out) == 4);
    j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 3);
    CHECK(j[0]["error_type"] == "SudoError");
    CHECK(pssh_cmd(inventory, {"--sudo", "-A", "whoami"}, "false", out) == 1);
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
    CHECK(cli({"-H", "web1.pssh-test.example", "-O", "ConnectTimeout=1", "--json", "true"}, &out,
              private_resolv) == 3);
    CHECK(seconds_since(start) < 5 * slowdown);  // the resolver alone would wait 30 s
    ::close(dns);
    auto j = nlohmann::json::parse(out);
    REQUIRE(j.size() == 1);
    CHECK(j[0]["error_type"] == "Timeout");
    CHECK(j[0]["error"].get<std::string>().find("DNS server did not answer") != std::string::npos);
  }

  TEST_CASE("--port and -H read a port as the library does: an error saying what is wrong") {
    const std::vector<std::string> with_stderr{"sh", "-c", "\"$@\" 2>&1", "sh"};
    std::string out;
    CHECK(cli({"--port", "22.5", "-H", "127.0.0.2", "true"}, &out, with_stderr) == 2);
    CHECK(out.ends_with("pssh: error: --port: ssh option 'Port=22.5': port 22.5: '22.5' is not a port number (1-65535)\n"));
    CHECK(cli({"-H", "127.0.0.2:http", "true"}, &out, with_stderr) == 1);
    CHECK(out == "pssh: host entry '127.0.0.2:http': 'http' is not a port number (1-65535); "
                 "write [user@]host[:port]\n");
  }

  TEST_CASE("options as optparse reads them: grouped letters, attached values, long names in full or in part") {
    std::string out;
    CHECK(cli({"-H127.0.0.2", "-iP", "--time=5", "--par", "2", "-o", "/dev/null/x", "echo hi"}, &out) == 1);
    CHECK(cli({"-H", "127.0.0.2", "-iPt5", "--inline-stdout", "echo hi"}, &out) == 0);
    CHECK(out.find(" [SUCCESS] 127.0.0.2\nhi\n") != std::string::npos);
    CHECK(cli({"--host=127.0.0.2 127.0.0.3", "--inline", "--", "echo", "-i"}, &out) == 0);
    CHECK(count_lines_containing(out, "-i") == 2);
    CHECK(cli({"-H", "127.0.0.2", "--in", "true"}, &out) == 2);  // --inline or --inline-stdout?
    CHECK(cli({"-H", "127.0.0.2", "-r", "true"}, &out) == 2);   // pscp's, not pssh's
    // Options after the command are the command's, as pssh 2.3 hands them to ssh.
    CHECK(cli({"-H", "127.0.0.2", "-P", "echo", "-P"}, &out) == 0);
    CHECK(out.find("127.0.0.2: -P\n") != std::string::npos);
  }

  TEST_CASE("PSSH_NODENUM, PSSH_NUMNODES and PSSH_HOST reach a server whose AcceptEnv takes them, as in pssh 2.3") {
    rig::Sshd sshd{{.extra_config = {"AcceptEnv PSSH_*"}}};
    std::string out;
    CHECK(rig::run({cli_program("pssh").string(), "-F", sshd.ssh_config().string(), "--port",
                    std::to_string(sshd.port()), "-O", "IdentityFile=" + sshd.user_key().string(), "-O",
                    "UserKnownHostsFile=" + sshd.known_hosts().string(), "-H", "127.0.0.2 127.0.0.3", "-P",
                    "echo $PSSH_NODENUM/$PSSH_NUMNODES/$PSSH_HOST"},
                   &out) == 0);
    CHECK(out.find("127.0.0.2: 0/2/127.0.0.2\n") != std::string::npos);
    CHECK(out.find("127.0.0.3: 1/2/127.0.0.3\n") != std::string::npos);
    // A shard's hosts are numbered in the whole list.
    CHECK(rig::run({cli_program("pssh").string(), "-F", sshd.ssh_config().string(), "--port",
                    std::to_string(sshd.port()), "-O", "IdentityFile=" + sshd.user_key().string(), "-O",
                    "UserKnownHostsFile=" + sshd.known_hosts().string(), "-H", "127.0.0.[2-5]", "--shard", "1/2",
                    "-P", "echo $PSSH_NODENUM/$PSSH_NUMNODES"},
                   &out) == 0);
    CHECK(out.find("127.0.0.4: 2/4\n") != std::string::npos);
    CHECK(out.find("127.0.0.5: 3/4\n") != std::string::npos);
  }

  TEST_CASE("@groups from a ClusterShell groups file; --exclude and --pick choose among the hosts") {
    rig::TempDir dir;
    auto groups = (dir.path() / "local.cfg").string();
    rig::write_file(groups, "# the fleet\nweb: 127.0.0.[2-4]\ndb: 127.0.0.5,127.0.0.6\nall: @web @db\nloop: @all @loop\n");
    std::string out;
    auto said_hi = [&](const std::string& host) { return out.find(host + ": hi\n") != std::string::npos; };
    CHECK(cli({"--groups", groups, "-H", "@all", "--exclude", "127.0.0.3", "--exclude", "@db", "-P", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, ": hi") == 2);
    CHECK((said_hi("127.0.0.2") && said_hi("127.0.0.4")));
    CHECK(cli({"--groups", groups, "-H", "@web 127.0.0.7", "--exclude", "*.[47]", "-P", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, ": hi") == 2);
    CHECK((said_hi("127.0.0.2") && said_hi("127.0.0.3")));
    // Groups joined by a comma, as clush takes them.
    CHECK(cli({"--groups", groups, "-H", "@db,@web", "-P", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, ": hi") == 5);
    // --pick: that many, each once, from the list.
    CHECK(cli({"--groups", groups, "-H", "@all", "--pick", "2", "-P", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, ": hi") == 2);
    CHECK(cli({"--groups", groups, "-H", "@all", "--pick", "9", "-P", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, ": hi") == 5);
    // Errors name the group and the file, before any host starts.
    const std::vector<std::string> with_stderr{"sh", "-c", "\"$@\" 2>&1", "sh"};
    CHECK(cli({"--groups", groups, "-H", "@nope", "true"}, &out, with_stderr) == 1);
    CHECK(out.find("no group @nope in " + groups) != std::string::npos);
    CHECK(cli({"--groups", groups, "-H", "@loop", "true"}, &out, with_stderr) == 1);
    CHECK(out.find("names itself") != std::string::npos);
    CHECK(cli({"-H", "127.0.0.2", "--pick", "0", "true"}) == 2);
    CHECK(cli({"-H", "127.0.0.2", "-t", "0x10", "true"}) == 2);  // seconds are decimal
    CHECK(cli({"-H", "127.0.0.[2-5]", "--pick", "2", "--shard", "0/2", "true"}) == 2);
    // An excluded entry with a user or port leaves out only the hosts with that user or port.
    const std::string me = rig::current_user();
    CHECK(cli({"-H", me + "@127.0.0.2 127.0.0.3 127.0.0.4", "--exclude", me + "@127.0.0.2", "--exclude",
               "nobody@127.0.0.3", "-P", "echo hi"}, &out) == 0);
    CHECK(count_lines_containing(out, ": hi") == 2);
    CHECK((said_hi("127.0.0.3") && said_hi("127.0.0.4")));
    rig::write_file(groups, "web 127.0.0.2\n");
    CHECK(cli({"--groups", groups, "-H", "@web", "true"}, &out, with_stderr) == 1);
    CHECK(out.find(groups + " line 1: expected") != std::string::npos);
  }

  TEST_CASE("-x and -X take ssh's own options; an ssh option pssh cannot honour is an error, not ignored") {
    auto options = server().options();
    std::string out;
    // -x with quotes, as a shell splits it; -X one argument as it is.
    std::vector<std::string> args{cli_program("pssh").string(), "-F", *options.ssh_config, "-x",
                                  "-p " + std::to_string(server().port()) + " -o 'UserKnownHostsFile " +
                                      *options.known_hosts + "'",
                                  "-X", "-i" + options.pkey->path(), "-H", "127.0.0.2", "-P", "echo ok"};
    CHECK(rig::run(args, &out) == 0);
    CHECK(out.find("127.0.0.2: ok\n") != std::string::npos);
    CHECK(cli({"-H", "127.0.0.2", "-x", "-L 8080:localhost:80", "true"}, &out) == 2);
    CHECK(cli({"-H", "127.0.0.2", "-x", "-o 'unterminated", "true"}, &out) == 2);
  }

  TEST_CASE("PSSH_* variables give defaults as in pssh 2.3; the command line beats them") {
    rig::TempDir dir;
    auto hosts = dir.path() / "hosts";
    rig::write_file(hosts, "127.0.0.2\n127.0.0.3\n");
    std::string out;
    auto with_env = [&](std::vector<std::string> env, std::vector<std::string> args) {
      std::vector<std::string> argv = cli_argv(args);
      return rig::run(argv, &out, env);
    };
    CHECK(with_env({"PSSH_HOSTS=" + hosts.string(), "PSSH_INLINE=1", "PSSH_OUTDIR=" + (dir.path() / "o").string()},
                   {"echo env"}) == 0);
    CHECK(count_lines_containing(out, "env") == 2);
    CHECK(rig::read_file(dir.path() / "o" / "127.0.0.3") == "env\n");
    CHECK(with_env({"PSSH_TIMEOUT=1"}, {"-H", "127.0.0.2", "sleep 10"}) == 3);
    CHECK(with_env({"PSSH_TIMEOUT=1"}, {"-H", "127.0.0.2", "-t", "0", "sleep 2; echo slept"}) == 0);
    CHECK(with_env({"PSSH_PAR=x"}, {"-H", "127.0.0.2", "true"}) == 2);
    CHECK(with_env({"PSSH_PRINT=yes"}, {"-H", "127.0.0.2", "echo printed"}) == 0);
    CHECK(out.find("127.0.0.2: printed\n") != std::string::npos);
  }

  TEST_CASE("each command's man page holds every option its --help lists, and its exit statuses") {
    const auto dir = std::filesystem::path(std::getenv("PSSH_CLI")).parent_path();
    for (const std::string name : {"pssh", "pscp", "pslurp", "prsync", "pnuke"}) {
      // -Dcli_names=parallel names the pages as Debian does.
      auto page_path = dir / (name + ".1");
      if (!std::filesystem::exists(page_path)) page_path = dir / ("parallel-" + name.substr(1) + ".1");
      REQUIRE_MESSAGE(std::filesystem::exists(page_path), page_path);
      std::string page = rig::read_file(page_path), help;
      auto section = [&](const std::string& from, const std::string& to) {
        auto start = page.find(from), end = page.find(to);
        return start == std::string::npos || end == std::string::npos ? std::string() : page.substr(start, end - start);
      };
      const std::string options_section = section(".SH OPTIONS", ".SH ENVIRONMENT");
      CHECK(rig::run({cli_program(name).string(), "--help"}, &help) == 0);
      std::size_t options = 0;
      std::istringstream lines(help);
      for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("  -")) continue;
        // "  -p, --par PAR": each spelling, as roff writes a '-'.
        std::istringstream words(line);
        for (std::string word; words >> word;) {
          if (word.back() == ',') word.pop_back();
          if (!word.starts_with("-")) continue;
          ++options;
          std::string escaped;
          for (char c : word) escaped += c == '-' ? std::string("\\-") : std::string(1, c);
          bool listed = false;
          for (const char* after : {",", " ", "\n"})
            listed = listed || options_section.find(escaped + after) != std::string::npos;
          CHECK_MESSAGE(listed, name << ": " << word);
        }
      }
      CHECK(options > 20);
      CHECK(page.find(".SH EXIT STATUS") != std::string::npos);
      CHECK(page.find(".SH DIFFERENCES FROM PSSH 2.3") != std::string::npos);
    }
    std::string version;
    CHECK(rig::run({cli_program("pssh").string(), "--version"}, &version) == 0);
    CHECK(version.starts_with("pssh "));
  }

  TEST_CASE("-G prints what effective_ssh_options() gives; -F reads that file alone") {
    rig::TempDir dir;
    rig::write_file(dir.path() / "config", "Host web*\n  HostName %h.example.com\n  User ops\n"
                                             "  ProxyJump jump1,ops@jump2:2222\n  SendEnv LANG\n");
    std::string out;
    REQUIRE(rig::run({std::getenv("PSSH_CLI"), "-F", (dir.path() / "config").string(), "--port", "2200", "-G",
                      "web1"}, &out) == 0);
    pssh::ClientOptions options;
    options.ssh_config = (dir.path() / "config").string();
    options.system_ssh_config.reset();
    options.port = 2200;
    // pssh's defaults, as pssh 2.3 runs ssh: one attempt, and -t's 60 s bound the connection too.
    options.num_retries = 1;
    options.connect_timeout = options.timeout = std::chrono::seconds(60);
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
  TEST_CASE("1 GiB from one host: -o, -i and -P stay under 32 MiB") {
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
    SUBCASE("-P: host: line") {
      auto run = run_measured({"-H", host, "-P", command}, printed);
      CHECK(run.status == 0);
      MESSAGE("-P: peak RSS " << run.peak_rss_kib << " KiB");
      CHECK(run.peak_rss_kib < limit_kib);
      std::uintmax_t line_end = host.size() + 2 + size + 1;
      std::string status_line = read_at(printed, line_end, 64);
      CHECK(status_line.ends_with("[SUCCESS] " + host + "\n"));
      CHECK(std::filesystem::file_size(printed) == line_end + status_line.size());
      CHECK(read_at(printed, 0, host.size() + 4) == host + ": aa");
      CHECK(read_at(printed, line_end - 5, 5) == "aaaa\n");
    }
  }
}
