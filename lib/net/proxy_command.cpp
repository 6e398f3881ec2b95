// Starting, watching and ending a ProxyCommand's process group.
#include "net/proxy_command.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

extern char** environ;

namespace pssh::detail {
namespace {

/// How often a wait for the shell's exit looks again without a pidfd.
constexpr auto exit_slice = std::chrono::milliseconds(5);

/// posix_spawn's two attribute objects, destroyed on every path.
struct SpawnSetup {
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attributes);
  }
  ~SpawnSetup() {
    ::posix_spawnattr_destroy(&attributes);
    ::posix_spawn_file_actions_destroy(&actions);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
};

[[noreturn]] void fail_to_start(int error, const std::string& command, const char* step) {
  throw std::system_error(error, std::generic_category(),
                          "cannot start ProxyCommand '" + command + "' (" + step + ")");
}

}  // namespace

ProxyCommand::ProxyCommand(std::string command) : command_(std::move(command)) {
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    fail_to_start(errno, command_, "socketpair");
  connection_.reset(pair[0]);
  UniqueFd theirs(pair[1]);  // closed here once the child has its copies
  stderr_.reset(::memfd_create("pssh-proxy-command-stderr", MFD_CLOEXEC));
  if (!stderr_) fail_to_start(errno, command_, "memfd_create");

  SpawnSetup setup;
  ::posix_spawn_file_actions_adddup2(&setup.actions, theirs.get(), STDIN_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, theirs.get(), STDOUT_FILENO);
  ::posix_spawn_file_actions_adddup2(&setup.actions, stderr_.get(), STDERR_FILENO);
  // Other threads may open descriptors without O_CLOEXEC at any moment
  // (libssh's own files): the command gets none of them.
  ::posix_spawn_file_actions_addclosefrom_np(&setup.actions, STDERR_FILENO + 1);
  // Its own group, so that one kill reaches what the command starts (the
  // parts of a `sh -c '...'`, an ssh's own ProxyCommand); the signal state of a plain process, not that
  // of a worker thread (which blocks SIGPIPE) or of the application.
  sigset_t none, all;
  ::sigemptyset(&none);
  ::sigfillset(&all);
  ::posix_spawnattr_setflags(&setup.attributes,
                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  ::posix_spawnattr_setpgroup(&setup.attributes, 0);
  ::posix_spawnattr_setsigmask(&setup.attributes, &none);
  ::posix_spawnattr_setsigdefault(&setup.attributes, &all);

  // posix_spawn, not fork: this process is multi-threaded, and glibc spawns
  // with CLONE_VFORK, copying nothing. "exec" as ssh(1) runs it: a simple
  // command replaces the shell, so it is our own child, reaped here (dash
  // would otherwise stay as its parent, and an orphan left by a killed
  // shell is reaped only if init reaps: not so in this test machine).
  std::string script = "exec " + command_;
  std::vector<char*> argv{const_cast<char*>("sh"), const_cast<char*>("-c"), script.data(),
                          nullptr};
  int rc = ::posix_spawn(&pid_, "/bin/sh", &setup.actions, &setup.attributes, argv.data(), environ);
  if (rc != 0) {
    pid_ = -1;
    fail_to_start(rc, command_, "posix_spawn /bin/sh");
  }
  // Wakes a wait for the exit at once: ending 500 connections one after
  // the other must not cost a sleep each. Without it (a kernel before 5.3,
  // or a seccomp filter), waits look in slices. The raw syscall: glibc
  // 2.36's <sys/pidfd.h> declares pidfd_open without C linkage for C++.
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
}

ProxyCommand::~ProxyCommand() {
  if (pid_ <= 0) return;
  connection_.reset();  // if still ours: EOF first
  terminate();
  wait_exit(Clock::now() + kill_grace);
  // The command may be gone while what it started lives on in the group.
  ::kill(-pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void ProxyCommand::terminate() noexcept {
  if (pid_ > 0) ::kill(-pid_, SIGTERM);
}

bool ProxyCommand::wait_exit(Clock::time_point deadline) noexcept {
  while (!exited()) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    if (pidfd_) {
      pollfd p{pidfd_.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    } else {
      std::this_thread::sleep_for(std::min<duration>(left, exit_slice));
    }
  }
  return true;
}

bool ProxyCommand::exited() noexcept {
  if (exit_) return true;
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc < 0 && errno == EINTR);
  // ECHILD: the application reaps children itself (SIGCHLD ignored).
  if (rc < 0 && errno == ECHILD) info.si_pid = pid_;
  if (info.si_pid == pid_) exit_ = info;
  return exit_.has_value();
}

std::optional<std::string> ProxyCommand::exit_within(duration limit) {
  if (!wait_exit(Clock::now() + limit)) return std::nullopt;
  std::string how;
  if (exit_->si_code == CLD_EXITED) {
    how = "exited with status " + std::to_string(exit_->si_status);
  } else if (exit_->si_code == CLD_KILLED || exit_->si_code == CLD_DUMPED) {
    const char* name = ::sigabbrev_np(exit_->si_status);
    how = "was killed by " +
          (name ? "SIG" + std::string(name) : "signal " + std::to_string(exit_->si_status));
  } else {
    how = "ended";
  }
  if (std::string tail = stderr_tail(); !tail.empty()) how += ": " + tail;
  return how;
}

std::string ProxyCommand::stderr_tail() const {
  constexpr off_t window = 2048;
  constexpr std::size_t max_lines = 3;
  struct stat info {};
  if (::fstat(stderr_.get(), &info) != 0 || info.st_size == 0) return {};
  off_t from = info.st_size > window ? info.st_size - window : 0;
  std::string text(static_cast<std::size_t>(info.st_size - from), '\0');
  ssize_t n = ::pread(stderr_.get(), text.data(), text.size(), from);
  if (n <= 0) return {};
  text.resize(static_cast<std::size_t>(n));
  if (from > 0) text.erase(0, text.find('\n') + 1);  // a cut first line says nothing

  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    auto end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty()) lines.push_back(line);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }
  std::string tail;
  for (std::size_t i = lines.size() > max_lines ? lines.size() - max_lines : 0; i < lines.size(); ++i)
    tail += (tail.empty() ? "" : "; ") + std::string(lines[i]);
  return tail;
}

}  // namespace pssh::detail
