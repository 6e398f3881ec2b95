// The pssh command family next to Debian's pssh 2.3 (package pssh:
// parallel-ssh, parallel-scp, parallel-slurp, parallel-rsync, parallel-nuke) on the same
// hosts with the same command lines: exit statuses, stdout (times masked),
// -o/-e files and what happened on the hosts. Every difference kept is
// asserted here as such, and listed in the man pages (cli/docs.cpp) with its reason.
#include "common.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

namespace fs = std::filesystem;

namespace {

bool has_debian_pssh() { return ::access("/usr/bin/parallel-ssh", X_OK) == 0; }

/// Files under a directory: each one's path in it and its bytes.
using Files = std::map<std::string, std::string>;

/// What one program did: its status, its stdout with the times of its
/// status lines masked, and every file under the run's directory.
struct Outcome {
  int status = -1;
  std::string out;
  Files files;
};

/// The local files the copy tests send: app.conf, and tree/sub/deep.txt.
struct Sources {
  Sources() {
    fs::create_directories(dir.path() / "tree" / "sub");
    rig::write_file(dir.path() / "app.conf", "x=1\n");
    rig::write_file(dir.path() / "tree" / "sub" / "deep.txt", "deep\n");
  }
  rig::TempDir dir;
  const std::string app = (dir.path() / "app.conf").string(), tree = (dir.path() / "tree").string();
};

/// "[2] 12:00:01 [SUCCESS] h" becomes "[2] T [SUCCESS] h"; the lines are
/// sorted when several hosts finish in an order the scheduler picks.
/// pssh 2.3 reports a timeout as "Timed out" or, when its poll happens to
/// see the ssh it killed die, "Timed out, Killed by signal 9": both are "Timed out".
std::string masked(const std::string& out, bool sort_lines) {
  std::string text = std::regex_replace(out, std::regex(R"(^(\[\d+\]) \d\d:\d\d:\d\d )", std::regex::multiline), "$1 T ");
  text = std::regex_replace(text, std::regex("Timed out, Killed by signal 9"), "Timed out");
  if (!sort_lines) return text;
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(std::regex_replace(line, std::regex(R"(^\[\d+\] )"), ""));
  std::sort(lines.begin(), lines.end());
  std::string sorted;
  for (const auto& line : lines) sorted += line + "\n";
  return sorted;
}

Files files_under(const fs::path& dir) {
  Files files;
  if (!fs::exists(dir)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    std::string name = fs::relative(entry.path(), dir).string();
    files[name] = entry.is_regular_file() ? rig::read_file(entry.path()) : "(directory)";
  }
  return files;
}

/// The hosts' ssh config, for Debian's ssh (through -x -F) and for pssh alike.
class Peers {
 public:
  Peers() {
    rig::write_file(dir_.path() / "ssh_config",
                    "Host *\n  Port " + std::to_string(server().port()) + "\n  IdentityFile " +
                        server().user_key().string() +
                        "\n  UserKnownHostsFile /dev/null\n  GlobalKnownHostsFile /dev/null\n"
                        "  StrictHostKeyChecking no\n  ConnectionAttempts 1\n  LogLevel ERROR\n");
    rig::write_file(dir_.path() / "hosts", "127.0.0.2\n127.0.0.3\n127.0.0.4\n");
  }
  std::string config() const { return (dir_.path() / "ssh_config").string(); }
  std::string hosts_file() const { return (dir_.path() / "hosts").string(); }

  /// Runs Debian's `debian` ("parallel-ssh") or ours (`ours`, "pssh") in a
  /// directory of its own, "{dir}" in the arguments naming it, with `input`
  /// on stdin.
  Outcome run(const std::string& program, bool debian, std::vector<std::string> args,
              const std::string& input = "", bool sort_lines = true) const {
    rig::TempDir work(dir_.path());
    // prsync's -x is rsync's: ssh's arguments are its -S.
    bool rsync = program.ends_with("rsync");
    std::vector<std::string> argv{"sh", "-c", "cd \"$0\" && printf %s \"$1\" | { shift; exec \"$@\"; }",
                                  work.path().string(), input,
                                  debian ? "/usr/bin/" + program : cli_program(program).string(), rsync ? "-S" : "-x",
                                  "-F " + config()};
    for (auto& arg : args) {
      for (std::size_t at; (at = arg.find("{dir}")) != std::string::npos;) arg.replace(at, 5, work.path().string());
      argv.push_back(arg);
    }
    Outcome outcome;
    outcome.status = rig::run(argv, &outcome.out);
    outcome.out = masked(outcome.out, sort_lines);
    outcome.files = files_under(work.path());
    return outcome;
  }

  /// Debian's program and ours on the same line: the same status, stdout and
  /// files (both as `files_seen` shows them, if given).
  void same(const std::string& debian, const std::string& ours, const std::vector<std::string>& args,
            const std::string& input = "", bool sort_lines = true,
            const std::function<Files(Files)>& files_seen = {}) const {
    Outcome theirs = run(debian, true, args, input, sort_lines);
    Outcome mine = run(ours, false, args, input, sort_lines);
    if (files_seen) {
      theirs.files = files_seen(std::move(theirs.files));
      mine.files = files_seen(std::move(mine.files));
    }
    std::string line;
    for (const auto& arg : args) line += " " + arg;
    INFO(debian << line);
    REQUIRE(theirs.status != 127);  // both programs ran: a comparison of two failures to start proves nothing
    CHECK(mine.status == theirs.status);
    CHECK(mine.out == theirs.out);
    CHECK(mine.files == theirs.files);
  }

 private:
  rig::TempDir dir_;
};

/// Each option in its short and its long spelling (optparse's --name=value too).
std::vector<std::vector<std::string>> both_spellings(const std::vector<std::string>& short_form,
                                                     const std::vector<std::string>& long_form) {
  return {short_form, long_form};
}

}  // namespace

TEST_SUITE("cli_diff") {
  TEST_CASE("pssh and parallel-ssh: every option, short and long, give the same statuses, output and files" *
            doctest::skip(!has_debian_pssh()) * doctest::description("needs Debian's package pssh")) {
    Peers peers;
    const std::string me = rig::current_user();
    auto same = [&](const std::vector<std::string>& args, const std::string& input = "", bool sort = true) {
      peers.same("parallel-ssh", "pssh", args, input, sort);
    };
    for (const auto& args : both_spellings({"-H", "127.0.0.2 127.0.0.3", "echo hi"},
                                           {"--host=127.0.0.2 127.0.0.3", "echo hi"}))
      same(args);
    for (const auto& args : both_spellings({"-h", peers.hosts_file(), "-i", "echo file"},
                                           {"--hosts", peers.hosts_file(), "--inline", "echo file"}))
      same(args);
    for (const auto& args : both_spellings({"-l", me, "-H", me + "@127.0.0.2", "-H", "127.0.0.3", "whoami"},
                                           {"--user=" + me, "-H", "127.0.0.2", "whoami"}))
      same(args);
    for (const auto& args : both_spellings({"-p", "1", "-h", peers.hosts_file(), "echo one at a time"},
                                           {"--par", "1", "-h", peers.hosts_file(), "echo one at a time"}))
      same(args);
    for (const auto& args :
         both_spellings({"-o", "{dir}/out", "-e", "{dir}/err", "-H", "127.0.0.2 127.0.0.3 127.0.0.2", "echo o; echo e >&2"},
                        {"--outdir={dir}/out", "--errdir={dir}/err", "-H", "127.0.0.2", "echo o; echo e >&2"}))
      same(args);
    // (Output before a timeout is not compared: pssh 2.3 may kill ssh before it reads it.)
    for (const auto& args : both_spellings({"-t", "1", "-H", "127.0.0.2", "-i", "sleep 10"},
                                           {"--timeout=1", "-H", "127.0.0.2", "-i", "sleep 10"}))
      same(args, "", false);
    for (const auto& args : both_spellings({"-O", "ConnectTimeout=5", "-H", "127.0.0.2", "-i", "echo opt"},
                                           {"--option", "ConnectTimeout 5", "-H", "127.0.0.2", "-i", "echo opt"}))
      same(args, "", false);
    for (const auto& args : both_spellings({"-v", "-H", "127.0.0.2", "-i", "echo verbose"},
                                           {"--verbose", "-H", "127.0.0.2", "-i", "echo verbose"}))
      same(args, "", false);
    for (const auto& args :
         both_spellings({"-x", "-o 'ConnectTimeout 5' -q", "-H", "127.0.0.2", "-i", "echo extra"},
                        {"--extra-args=-o ConnectTimeout=5", "-H", "127.0.0.2", "-i", "echo extra"}))
      same(args, "", false);
    for (const auto& args : both_spellings({"-X", "-oConnectTimeout=5", "-H", "127.0.0.2", "-i", "echo arg"},
                                           {"--extra-arg", "-C", "-H", "127.0.0.2", "-i", "echo arg"}))
      same(args, "", false);
    for (const auto& args : both_spellings({"-h", peers.hosts_file(), "-g", "*.[34]", "echo glob"},
                                           {"-h", peers.hosts_file(), "--host-glob=127.0.0.3", "echo glob"}))
      same(args);
    for (const auto& args : both_spellings({"-i", "-H", "127.0.0.2", "printf 'a\\nb\\n'; echo e >&2; exit 3"},
                                           {"--inline", "-H", "127.0.0.2", "printf 'a\\nb\\n'; echo e >&2; exit 3"}))
      same(args, "", false);
    same({"--inline-stdout", "-H", "127.0.0.2", "echo out; echo err >&2"}, "", false);
    // stdin: sent with -I (a command, or the login shell's script), never without.
    for (const auto& args : both_spellings({"-I", "-i", "-H", "127.0.0.2", "cat"},
                                           {"--send-input", "-i", "-H", "127.0.0.2", "cat"}))
      same(args, "piped\n", false);
    same({"-I", "-i", "-H", "127.0.0.2"}, "echo from a script\n", false);
    same({"-i", "-H", "127.0.0.2", "cat; echo end"}, "not sent\n", false);
    for (const auto& args : both_spellings({"-P", "-H", "127.0.0.2 127.0.0.3", "echo printed"},
                                           {"--print", "-H", "127.0.0.2 127.0.0.3", "echo printed"}))
      same(args);
    // Failures: an exit status, an exit 255, usage errors, a missing hosts file.
    same({"-H", "127.0.0.2 127.0.0.3", "exit 7"});
    same({"-H", "127.0.0.2", "exit 255"});
    same({"-H", "127.0.0.2", "-t", "1", "-H", "127.0.0.3", "case $SSH_CONNECTION in *'127.0.0.2 '*) sleep 10;; esac; exit 255"});
    same({"-H", "127.0.0.2"});
    same({"echo no hosts"});
    same({"-h", "/no/such/hosts", "true"});
  }

  TEST_CASE("the differences pssh keeps from parallel-ssh, each as the man page lists it" *
            doctest::skip(!has_debian_pssh()) * doctest::description("needs Debian's package pssh")) {
    Peers peers;
    const std::string refused = "127.0.0.3:" + std::to_string(rig::refused_port());
    // A host that fails for another reason than its command's exit status:
    // the same status; where pssh 2.3 shows ssh's or scp's exit code, pssh
    // says what went wrong. An unreachable host:
    Outcome theirs = peers.run("parallel-ssh", true, {"-H", refused, "true"}, "", false);
    Outcome mine = peers.run("pssh", false, {"-H", refused, "true"}, "", false);
    CHECK(theirs.status == 4);
    CHECK(mine.status == 4);
    CHECK(theirs.out == "[1] T [FAILURE] " + refused + " Exited with error code 255\n");
    CHECK(mine.out.starts_with("[1] T [FAILURE] " + refused + " cannot connect to 127.0.0.3"));
    // A command killed by a signal: ssh's 255 there, the signal here.
    theirs = peers.run("parallel-ssh", true, {"-H", "127.0.0.2", "kill -9 $$"}, "", false);
    mine = peers.run("pssh", false, {"-H", "127.0.0.2", "kill -9 $$"}, "", false);
    CHECK(theirs.status == 4);
    CHECK(mine.status == 4);
    CHECK(theirs.out == "[1] T [FAILURE] 127.0.0.2 Exited with error code 255\n");
    CHECK(mine.out == "[1] T [FAILURE] 127.0.0.2 Killed by signal KILL\n");
    // -P prefixes every line; pssh 2.3 prefixes what one read returned, so
    // lines that arrive together show the host once.
    theirs = peers.run("parallel-ssh", true, {"-P", "-H", "127.0.0.2", "printf 'a\\nb\\n'"}, "", false);
    mine = peers.run("pssh", false, {"-P", "-H", "127.0.0.2", "printf 'a\\nb\\n'"}, "", false);
    CHECK((theirs.out == "127.0.0.2: a\nb\n[1] T [SUCCESS] 127.0.0.2\n" ||
           theirs.out == "127.0.0.2: a\n127.0.0.2: b\n[1] T [SUCCESS] 127.0.0.2\n"));
    CHECK(mine.out == "127.0.0.2: a\n127.0.0.2: b\n[1] T [SUCCESS] 127.0.0.2\n");
    // A copy the host refuses, and a file it does not have.
    rig::TempDir source;
    rig::write_file(source.path() / "app.conf", "x=1\n");
    const std::string app = (source.path() / "app.conf").string();
    theirs = peers.run("parallel-scp", true, {"-H", "127.0.0.2", app, "/proc/no/such/dir"}, "", false);
    mine = peers.run("pscp", false, {"-H", "127.0.0.2", app, "/proc/no/such/dir"}, "", false);
    CHECK(theirs.status == 4);
    CHECK(mine.status == 4);
    CHECK(theirs.out == "[1] T [FAILURE] 127.0.0.2 Exited with error code 1\n");
    CHECK(mine.out == "[1] T [FAILURE] 127.0.0.2 cannot create directory /proc/no on 127.0.0.2: no such file or directory\n");
    theirs = peers.run("parallel-slurp", true, {"-H", "127.0.0.2", "-L", "{dir}/in", "/no/such/file", "f"}, "", false);
    mine = peers.run("pslurp", false, {"-H", "127.0.0.2", "-L", "{dir}/in", "/no/such/file", "f"}, "", false);
    CHECK(theirs.status == 5);
    CHECK(mine.status == 5);
    CHECK(theirs.out == "[1] T [FAILURE] 127.0.0.2 Exited with error code 1\n");
    CHECK(mine.out == "[1] T [FAILURE] 127.0.0.2 cannot copy /no/such/file from 127.0.0.2: no such file or directory\n");
    // A directory without -r: pscp refuses it before connecting (status 1),
    // where parallel-scp lets every host's scp fail (4).
    CHECK(peers.run("parallel-scp", true, {"-H", "127.0.0.2", source.path().string(), "{dir}/d"}).status == 4);
    mine = peers.run("pscp", false, {"-H", "127.0.0.2", source.path().string(), "{dir}/d"});
    CHECK(mine.status == 1);
    CHECK(mine.files.empty());
    // -i ends output without a newline with one.
    theirs = peers.run("parallel-ssh", true, {"-i", "-H", "127.0.0.2", "printf tail"}, "", false);
    mine = peers.run("pssh", false, {"-i", "-H", "127.0.0.2", "printf tail"}, "", false);
    CHECK(theirs.out == "[1] T [SUCCESS] 127.0.0.2\ntail");
    CHECK(mine.out == "[1] T [SUCCESS] 127.0.0.2\ntail\n");
  }

  TEST_CASE("pscp, pslurp and pnuke next to parallel-scp, parallel-slurp and parallel-nuke" *
            doctest::skip(!has_debian_pssh()) * doctest::description("needs Debian's package pssh")) {
    Peers peers;
    Sources sources;
    const std::string& app = sources.app;
    const std::string& tree = sources.tree;
    auto same_scp = [&](const std::vector<std::string>& args) { peers.same("parallel-scp", "pscp", args); };
    // The remote side is this machine: "{dir}" is each program's own directory.
    for (const auto& args : both_spellings({"-H", "127.0.0.2 127.0.0.3", app, "{dir}/app.conf"},
                                           {"--host", "127.0.0.2", app, "{dir}/renamed"}))
      same_scp(args);
    same_scp({"-H", "127.0.0.2", app, "{dir}"});  // into an existing directory
    for (const auto& args : both_spellings({"-r", "-H", "127.0.0.2", tree, "{dir}/copy"},
                                           {"--recursive", "-H", "127.0.0.2", tree, "{dir}"}))
      same_scp(args);
    same_scp({"-H", "127.0.0.2", app, (sources.dir.path() / "tree" / "sub" / "deep.txt").string(), "{dir}/both"});
    same_scp({"-H", "127.0.0.2", "-t", "0", "-o", "{dir}/o", app, "{dir}/x"});

    // pslurp: DIR/<host>/NAME; pssh 2.3.4 names the folder "<host>:None"
    // when the host gave no port, a slip kept out of ours.
    auto slurp = [&](const std::vector<std::string>& args) {
      Outcome theirs = peers.run("parallel-slurp", true, args);
      Outcome mine = peers.run("pslurp", false, args);
      std::map<std::string, std::string> renamed;
      for (auto& [name, text] : theirs.files) renamed[std::regex_replace(name, std::regex(":None"), "")] = text;
      std::string line;
      for (const auto& arg : args) line += " " + arg;
      INFO("parallel-slurp" << line);
      CHECK(mine.status == theirs.status);
      CHECK(mine.out == theirs.out);
      CHECK(mine.files == renamed);
    };
    for (const auto& args : both_spellings({"-L", "{dir}/in", "-H", "127.0.0.2 127.0.0.3", app, "local.conf"},
                                           {"--localdir={dir}/in", "-H", "127.0.0.2", app, "local.conf"}))
      slurp(args);
    slurp({"-L", "{dir}/in", "-r", "-H", "127.0.0.2", tree, "t"});

    // pnuke: a process of a name of its own, killed on the host by both.
    for (bool debian : {true, false}) {
      INFO((debian ? "parallel-nuke" : "pnuke"));
      rig::TempDir bin;
      fs::copy_file("/bin/sleep", bin.path() / "pssh-nuke-me");
      pid_t target = rig::spawn({(bin.path() / "pssh-nuke-me").string(), "60"});
      Outcome nuked = peers.run(debian ? "parallel-nuke" : "pnuke", debian, {"-H", "127.0.0.2", "pssh-nuke-me"}, "", false);
      CHECK(nuked.status == 0);
      CHECK(nuked.out == "[1] T [SUCCESS] 127.0.0.2\n");
      bool killed = eventually([&] { return ::waitpid(target, nullptr, WNOHANG) == target; });
      CHECK(killed);
      if (!killed) rig::stop(target);
      Outcome none = peers.run(debian ? "parallel-nuke" : "pnuke", debian, {"-H", "127.0.0.2", "pssh-nuke-me"});
      CHECK(none.status == 5);  // pkill found nothing: exit 1
    }
  }

  TEST_CASE("prsync next to parallel-rsync: every option, success, rsync's failure, timeout" *
            doctest::skip(!has_debian_pssh()) * doctest::description("needs Debian's package pssh")) {
    Peers peers;
    Sources sources;
    const std::string& app = sources.app;
    const std::string& tree = sources.tree;
    const fs::path source = sources.dir.path();
    rig::write_file(source / "tree" / "skip.tmp", "not wanted\n");
    rig::write_file(source / "slow-rsync", "#!/bin/sh\nsleep 60\nexec rsync \"$@\"\n");
    fs::permissions(source / "slow-rsync", fs::perms(0700));
    // rsync -v ends with its counts and speed, which differ from run to run.
    auto counts_masked = [](Files files) {
      for (auto& [name, text] : files)
        text = std::regex_replace(text, std::regex(R"(sent [\d,]+ bytes .*|total size is .*)"), "(counts)");
      return files;
    };
    auto same = [&](const std::vector<std::string>& args) {
      peers.same("parallel-rsync", "prsync", args, "", true, counts_masked);
    };
    for (const auto& args : both_spellings({"-H", "127.0.0.2 127.0.0.3", app, "{dir}/app.conf"},
                                           {"--host=127.0.0.2", app, "{dir}/renamed"}))
      same(args);
    for (const auto& args : both_spellings({"-r", "-H", "127.0.0.2", tree, "{dir}/copy"},
                                           {"--recursive", "-H", "127.0.0.2", tree, "{dir}"}))
      same(args);
    for (const auto& args : both_spellings({"-a", "-z", "-H", "127.0.0.2", tree, "{dir}/copy"},
                                           {"--archive", "--compress", "-H", "127.0.0.2", tree, "{dir}/copy"}))
      same(args);
    for (const auto& args : both_spellings({"-r", "-x", "--exclude=*.tmp --delete", "-H", "127.0.0.2", tree, "{dir}"},
                                           {"--recursive", "--extra-arg=--exclude=*.tmp", "-H", "127.0.0.2", tree, "{dir}"}))
      same(args);
    for (const auto& args : both_spellings({"-v", "-o", "{dir}/out", "-e", "{dir}/err", "-H", "127.0.0.2", app, "{dir}/v"},
                                           {"--verbose", "--outdir={dir}/out", "--errdir={dir}/err", "-H", "127.0.0.2",
                                            app, "{dir}/v"}))
      same(args);
    // rsync's own failure: a source that is missing (23), a target it cannot make (11 or 23).
    same({"-e", "{dir}/err", "-H", "127.0.0.2 127.0.0.3", (source / "missing").string(), "{dir}/m"});
    same({"-e", "{dir}/err", "-H", "127.0.0.2", app, "/proc/no/such/dir/x"});
    // The differences kept, as the man page lists them. An unreachable host: the reason, not rsync's 255.
    const std::string refused = "127.0.0.3:" + std::to_string(rig::refused_port());
    Outcome theirs = peers.run("parallel-rsync", true, {"-H", refused, app, "{dir}/x"}, "", false);
    Outcome mine = peers.run("prsync", false, {"-H", refused, app, "{dir}/x"}, "", false);
    CHECK(theirs.status == 4);
    CHECK(mine.status == 4);
    // rsync reports ssh's 255, or its own 12 when it sees the closed pipe first.
    CHECK((theirs.out == "[1] T [FAILURE] " + refused + " Exited with error code 255\n" ||
           theirs.out == "[1] T [FAILURE] " + refused + " Exited with error code 12\n"));
    CHECK(mine.out.starts_with("[1] T [FAILURE] " + refused + " cannot connect to 127.0.0.3"));
    // A line rsync refuses: once, before any host (1), not on every host (4).
    theirs = peers.run("parallel-rsync", true, {"-x", "--no-such-option", "-H", "127.0.0.2 127.0.0.3", app, "{dir}/x"});
    mine = peers.run("prsync", false, {"-x", "--no-such-option", "-H", "127.0.0.2 127.0.0.3", app, "{dir}/x"});
    CHECK(theirs.status == 4);
    CHECK(mine.status == 1);
    CHECK(mine.out.empty());
    // Another remote shell for rsync is refused: prsync's rsync runs on pssh's connections.
    CHECK(peers.run("prsync", false, {"-X", "-essh", "-H", "127.0.0.2", app, "{dir}/x"}).status == 2);
    // -t: the remote side never answers; both end it and report 3.
    for (const auto& args : both_spellings({"-t", "1", "-x", "--rsync-path=" + (source / "slow-rsync").string(),
                                            "-H", "127.0.0.2", app, "{dir}/slow"},
                                           {"--timeout=1", "-X", "--rsync-path=" + (source / "slow-rsync").string(),
                                            "-H", "127.0.0.2", app, "{dir}/slow"}))
      same(args);
  }
}
