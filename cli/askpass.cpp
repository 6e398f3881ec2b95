// A password from the terminal or from the SSH_ASKPASS program, as ssh(1) asks. The password travels
// only through a pipe or the terminal: never an argument or a variable.
#include "askpass.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace cli {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

/// The line's end is not the password's.
std::string without_newline(std::string text) {
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

std::string from_program(const std::string& program, const std::string& prompt) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) fail("cannot run SSH_ASKPASS");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::array<char*, 3> argv{const_cast<char*>(program.c_str()), const_cast<char*>(prompt.c_str()),
                            nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string text;
  if (rc == 0) {
    char buffer[1024];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      text.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fds[0]);
  if (rc != 0)
    throw std::runtime_error("cannot run SSH_ASKPASS '" + program + "': " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("cannot learn how SSH_ASKPASS '" + program + "' ended: " + std::strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error("SSH_ASKPASS '" + program + "' failed (status " +
                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status)
                                                              : 128 + WTERMSIG(status)) +
                             "); no password");
  }
  return without_newline(std::move(text));
}

/// Signals that end or stop the program while the echo is off: caught, so
/// that the terminal is restored before they take effect.
constexpr std::array<int, 7> interrupting{SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
volatile sig_atomic_t caught = 0;
void note_signal(int signal) { caught = signal; }

/// The terminal with its echo off, and the signal handlers that interrupt
/// a read, for as long as it lives.
class QuietTerminal {
 public:
  explicit QuietTerminal(int tty) : tty_(tty) {
    if (::tcgetattr(tty_, &saved_) != 0) fail("cannot read the terminal's settings");
    struct sigaction action {};
    action.sa_handler = note_signal;  // no SA_RESTART: read() returns EINTR
    sigemptyset(&action.sa_mask);
    for (std::size_t i = 0; i < interrupting.size(); ++i)
      ::sigaction(interrupting[i], &action, &old_actions_[i]);
    termios quiet = saved_;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL);
    ::tcsetattr(tty_, TCSAFLUSH, &quiet);
  }
  ~QuietTerminal() {
    ::tcsetattr(tty_, TCSAFLUSH, &saved_);
    for (std::size_t i = 0; i < interrupting.size(); ++i)
      ::sigaction(interrupting[i], &old_actions_[i], nullptr);
  }
  QuietTerminal(const QuietTerminal&) = delete;
  QuietTerminal& operator=(const QuietTerminal&) = delete;

 private:
  int tty_;
  termios saved_{};
  std::array<struct sigaction, interrupting.size()> old_actions_{};
};

/// One line typed at the terminal, or the signal that interrupted it.
std::string read_quietly(int tty, const std::string& prompt, int& signal) {
  QuietTerminal quiet(tty);
  [[maybe_unused]] auto written = ::write(tty, prompt.data(), prompt.size());
  std::string line;
  caught = 0;
  for (char c;;) {
    ssize_t n = ::read(tty, &c, 1);
    if (n < 0 && errno == EINTR && caught != 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot read the password from the terminal");
    if (n == 0 || c == '\n') break;
    line += c;
  }
  signal = caught;
  written = ::write(tty, "\n", 1);
  return line;
}

}  // namespace

std::string ask_password(const std::string& prompt) {
  const char* program = std::getenv("SSH_ASKPASS");
  bool has_program = program != nullptr && *program != '\0';
  const char* require = std::getenv("SSH_ASKPASS_REQUIRE");
  if (has_program && require != nullptr && std::string_view(require) == "force") return from_program(program, prompt);
  int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0 && has_program) return from_program(program, prompt);
  if (tty < 0) fail("no terminal to ask for the password on; set SSH_ASKPASS to a program that prints it");
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_tty{tty};
  for (;;) {
    int signal = 0;
    std::string password = read_quietly(tty, prompt, signal);
    if (signal == 0) return password;
    // The terminal is itself again: the signal does what it would have
    // done. A stop (Ctrl-Z) comes back here, and the question is asked anew.
    ::explicit_bzero(password.data(), password.size());
    ::raise(signal);
  }
}

}  // namespace cli
