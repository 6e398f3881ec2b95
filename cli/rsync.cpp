#include "rsync.hpp"

#include "mailbox.hpp"
#include "results.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace cli {
namespace {

/// Writes all of `bytes`; false once the reader is gone. Never raises SIGPIPE.
bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK) n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

/// Everything `fd` gives until its end.
std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

std::system_error system_error(const std::string& what) {
  return std::system_error(errno, std::generic_category(), what);
}

/// One direction of the bridge: bytes read from `from`, written to `to`.
struct Flow {
  int from, to;
  std::string buffer{};
  bool reading = true;
  bool over() const { return !reading && buffer.empty(); }
};

}  // namespace

int run_bridge(const std::vector<std::string>& args) {
  std::signal(SIGPIPE, SIG_IGN);  // a reader that is gone is an error, not a death
  // rsync signals its remote shell when it stops on an error: the remote
  // side's last words (its stderr) are still on their way, and are relayed.
  std::signal(SIGUSR1, SIG_IGN);
  std::array<int, 3> fds{};
  for (std::size_t i = 0; i < fds.size(); ++i) {
    const std::string& text = i < args.size() ? args[i] : std::string();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), fds[i]);
    struct stat about {};
    if (args.size() < 5 || error != std::errc() || end != text.data() + text.size() || text.empty() ||
        ::fstat(fds[i], &about) != 0 || !S_ISSOCK(about.st_mode)) {
      std::fputs("pssh --rsync-bridge: prsync runs this as rsync's remote shell, on sockets it made\n", stderr);
      return 255;
    }
  }
  auto [control, data, errors] = fds;
  // As ssh(1) makes one command of its words.
  std::string command;
  for (std::size_t i = 4; i < args.size(); ++i) command += (i == 4 ? "" : " ") + args[i];
  if (!write_all(control, command)) return 255;
  ::shutdown(control, SHUT_WR);

  // rsync's stdin to the host, the host's stdout and stderr back, until the
  // host's output ends (its command exited, or prsync gave up on it).
  // The host's stderr first: an error ends rsync soon after its message.
  Flow flows[3] = {{errors, 2}, {data, 1}, {0, data}};
  Flow& input = flows[2];
  while (!flows[0].over() || !flows[1].over()) {
    pollfd fds_polled[6];
    Flow* polled_flow[6];
    bool polled_read[6];
    nfds_t count = 0;
    for (Flow& flow : flows) {
      if (flow.reading && flow.buffer.empty()) {
        fds_polled[count] = {flow.from, POLLIN, 0};
        polled_flow[count] = &flow;
        polled_read[count++] = true;
      } else if (!flow.buffer.empty()) {
        fds_polled[count] = {flow.to, POLLOUT, 0};
        polled_flow[count] = &flow;
        polled_read[count++] = false;
      }
    }
    if (::poll(fds_polled, count, -1) < 0) {
      if (errno == EINTR) continue;
      return 255;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds_polled[i].revents == 0) continue;
      Flow& flow = *polled_flow[i];
      if (polled_read[i]) {
        char buffer[65536];
        ssize_t n = ::read(flow.from, buffer, sizeof buffer);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n > 0) {
          flow.buffer.assign(buffer, static_cast<std::size_t>(n));
        } else {
          flow.reading = false;
          if (&flow == &input) ::shutdown(data, SHUT_WR);  // rsync closed its end: so does the host's stdin
        }
      } else {
        ssize_t n = ::send(flow.to, flow.buffer.data(), flow.buffer.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == ENOTSOCK) n = ::write(flow.to, flow.buffer.data(), flow.buffer.size());
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return 255;  // rsync is gone, or prsync is: either way the copy is over
        flow.buffer.erase(0, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(1);  // rsync reads the end of the host's output
  std::string status = read_all(control);
  int code = 255;
  auto [end, error] = std::from_chars(status.data(), status.data() + status.size(), code);
  return status.empty() || error != std::errc() || end != status.data() + status.size() ? 255 : code;
}

namespace {

/// The sockets between prsync and one host's bridge. The bridge's ends go
/// to rsync (and from it to the bridge), then are closed here, so that
/// either side sees the other leave.
struct Bridge {
  Descriptor control, data, errors;
  Descriptor bridge_control, bridge_data, bridge_errors;

  /// False, with errno, if the sockets cannot be made.
  bool open() {
    for (auto [ours, theirs] : {std::pair{&control, &bridge_control}, std::pair{&data, &bridge_data},
                                std::pair{&errors, &bridge_errors}}) {
      int pair[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return false;
      ours->reset(pair[0]);
      theirs->reset(pair[1]);
    }
    return true;
  }
  /// rsync's -e: this program as the bridge on these sockets.
  std::string remote_shell(const std::string& program) const {
    std::string quoted = "'";  // rsync's own quoting: '' inside '' is a quote
    for (char c : program) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    quoted += "'";
    return quoted + " " + std::string(bridge_option) + " " + std::to_string(bridge_control.get()) + " " +
           std::to_string(bridge_data.get()) + " " + std::to_string(bridge_errors.get());
  }
  /// Wakes every thread that reads or writes them, before they are closed.
  void shut() {
    for (const Descriptor* fd : {&control, &data, &errors})
      if (*fd) ::shutdown(fd->get(), SHUT_RDWR);
  }
  /// The host's command is over: `status` goes to the bridge as its exit
  /// status, read once the host's output has reached it.
  void finish(int status) {
    if (!control) return;
    write_all(control.get(), std::to_string(status));
    ::shutdown(control.get(), SHUT_WR);
  }
};

/// A local rsync, its stdout and stderr read through pipes.
struct Rsync {
  pid_t pid = -1;
  Descriptor out, err;
};

/// Starts `argv` (rsync, from PATH) with the bridge's sockets, stdin from
/// /dev/null and the signal mask the program was started with, in a process
/// group of its own, then closes the bridge's ends here.
Rsync spawn_rsync(const std::vector<std::string>& argv, Bridge& bridge, const sigset_t& mask) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw system_error("cannot make a pipe for rsync");
  Descriptor out_read(out[0]), out_write(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) throw system_error("cannot make a pipe for rsync");
  Descriptor err_read(err[0]), err_write(err[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // The same number again: glibc then clears close-on-exec for the child alone.
  for (const Descriptor* fd : {&bridge.bridge_control, &bridge.bridge_data, &bridge.bridge_errors})
    posix_spawn_file_actions_adddup2(&actions, fd->get(), fd->get());
  // Its own process group, which prsync ends as a whole (rsync and its
  // bridge) when the host times out or is interrupted: Ctrl-C reaches prsync
  // alone, which cancels the hosts first.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setsigmask(&attributes, &mask);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);

  std::vector<char*> words;
  for (const std::string& word : argv) words.push_back(const_cast<char*>(word.c_str()));
  words.push_back(nullptr);
  Rsync rsync;
  int error = ::posix_spawnp(&rsync.pid, words[0], &actions, &attributes, words.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  bridge.bridge_control.reset();
  bridge.bridge_data.reset();
  bridge.bridge_errors.reset();
  if (error != 0) {
    errno = error;
    throw system_error("cannot run rsync (prsync needs rsync here and on every host)");
  }
  rsync.out = std::move(out_read);
  rsync.err = std::move(err_read);
  return rsync;
}

/// Reads rsync's stdout and stderr until both end, giving each piece to `take`.
template <class Take>
void drain(Rsync& rsync, Take take) {
  std::pair<Descriptor*, pssh::Stream> pipes[2] = {{&rsync.out, pssh::Stream::out}, {&rsync.err, pssh::Stream::err}};
  while (rsync.out || rsync.err) {
    pollfd fds[2];
    nfds_t count = 0;
    std::pair<Descriptor*, pssh::Stream>* polled[2];
    for (auto& pipe : pipes) {
      if (!*pipe.first) continue;
      fds[count] = {pipe.first->get(), POLLIN, 0};
      polled[count++] = &pipe;
    }
    if (::poll(fds, count, -1) < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid descriptors; the rest of the output is lost, not waited for
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      char buffer[65536];
      ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        polled[i]->first->reset();
        continue;
      }
      take(polled[i]->second, std::string_view(buffer, static_cast<std::size_t>(n)));
    }
  }
}

/// rsync's wait status, waited for; one of an exit 255 if it cannot be
/// known (someone else reaped it), never a success.
int wait_for(pid_t pid) {
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, 0) == pid) return status;
    if (errno != EINTR) return 255 << 8;
  }
}

/// The path of this program, for rsync to run it as the bridge.
std::string this_program() {
  std::error_code error;
  auto path = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) throw std::runtime_error("cannot find this program for rsync to run (/proc/self/exe): " + error.message());
  return path.string();
}

/// rsync's command line for one host, pssh 2.3's flags first; for the
/// probe (remote_command), with no log file of the user's to write to.
std::vector<std::string> rsync_command(const Arguments& a, const std::string& remote_shell, bool probe = false) {
  std::vector<std::string> argv{"rsync"};
  if (a.verbose) argv.push_back("-v");
  if (a.recursive) argv.push_back("-r");
  if (a.archive) argv.push_back("-a");
  if (a.compress) argv.push_back("-z");
  argv.insert(argv.end(), a.rsync_args.begin(), a.rsync_args.end());
  if (probe) argv.push_back("--log-file=/dev/null");  // the last one given wins; the server is not told
  argv.push_back("-e");  // after -x's and -X's: ours is the one rsync uses
  argv.push_back(remote_shell);
  argv.insert(argv.end(), a.operands.begin(), a.operands.end() - 1);
  argv.push_back("prsync:" + a.operands.back());  // the host is the bridge's; this name only has to be one
  return argv;
}

/// The command rsync runs on the other side. It is the same for every host
/// (it follows from the options and the remote path alone), so rsync is
/// asked once, with a bridge that only takes it. A line rsync refuses is
/// refused here, once, before any host.
std::string remote_command(const Arguments& a, const std::string& program, const sigset_t& mask) {
  Bridge bridge;
  if (!bridge.open()) throw system_error("cannot make sockets for rsync");
  Rsync rsync = spawn_rsync(rsync_command(a, bridge.remote_shell(program), true), bridge, mask);
  std::string command = read_all(bridge.control.get());
  bridge = Bridge();  // the bridge sees its host leave, and rsync ends
  std::string errors;
  drain(rsync, [&](pssh::Stream stream, std::string_view bytes) {
    if (stream == pssh::Stream::err) errors += bytes;
  });
  int status = wait_for(rsync.pid);
  if (command.empty()) {
    while (!errors.empty() && errors.back() == '\n') errors.pop_back();
    if (errors.empty()) errors = "it printed nothing (was it asked for --version or --help?)";
    throw std::runtime_error("rsync ended before it started its remote side (" +
                             (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                                : "signal " + std::to_string(WTERMSIG(status))) +
                             "): " + errors);
  }
  return command;
}

/// What happens to a host, in the order it happens, for the main thread.
struct Step {
  enum class Kind { started, host_done, rsync_done } kind;
  std::size_t index;
  int status;  ///< host_done: the bridge's exit status; rsync_done: the wait status
};

/// One host's rsync and the threads that carry its bytes. None of them is a
/// library worker, which only fills the host's buffers and sends its stdin:
/// rsync's protocol sends both ways at once, and a worker held by a full
/// socket could not send what the other side waits for.
struct HostRun {
  Bridge bridge;
  std::mutex reaping;
  pid_t rsync = -1;     ///< also its process group, valid until reaped; guarded by `reaping`
  bool reaped = false;  ///< guarded by `reaping`
  bool started = false, host_done = false, rsync_done = false;
  int wait_status = 0;
  std::string failure;         ///< prsync's own reason, before rsync's
  std::string upstream_error;  ///< set by the upstream thread
  bool file_error = false;     ///< an -o/-e file could not be written
  /// rsync's bytes to the host's stdin; the host's stdout and stderr to the
  /// bridge; rsync's own output to the report.
  std::jthread upstream, downstream, errors, output;

  /// Only when the run ends early (an exception): the threads are woken,
  /// then joined, then the sockets closed.
  ~HostRun() { bridge.shut(); }
};

/// Copies every chunk of `range` to `fd` (while it takes them), then ends
/// what `fd` sends.
void relay(pssh::ChunkRange range, int fd) {
  bool taken = true;
  for (const std::string& chunk : range)
    if (taken) taken = write_all(fd, chunk);  // the rest is read and dropped: the bridge is gone
  ::shutdown(fd, SHUT_WR);
}

}  // namespace

int run_rsync(const Arguments& a, pssh::ClientOptions options, const std::vector<std::string>& hosts,
              const std::vector<pssh::HostConfig>& config, Console& console, Interrupts& interrupts) {
  const std::string program = this_program();
  const std::string command = remote_command(a, program, interrupts.mask_before());
  std::vector<std::string> names = status_names(a);
  HostStreams streams(Show{}, a.out_dir, a.err_dir, names, names, false, console);
  Mailbox<Step> steps(3 * hosts.size());  // each host's three steps at most
  std::vector<HostRun> runs(hosts.size());  // after what its threads use, before the client that feeds them
  options.line_events = false;
  options.on_event = [&steps](const pssh::Event& event) {
    using Kind = pssh::Event::Kind;
    if (event.kind == Kind::started) {
      steps.put({Step::Kind::started, event.index, 0});
    } else if (event.kind == Kind::finished || event.kind == Kind::failed) {
      int status = event.kind == Kind::finished ? event.exit_code.value_or(255) : 255;
      steps.put({Step::Kind::host_done, event.index, status});
    }
  };
  pssh::ParallelClient client(hosts, options, config);
  // An interrupt cancels the hosts, and ends every rsync still running:
  // one whose host has finished, but which is itself stuck, too.
  Routed routed(interrupts, client, [&runs] {
    for (HostRun& r : runs) {
      std::lock_guard lock(r.reaping);
      if (r.rsync > 0 && !r.reaped) ::kill(-r.rsync, SIGKILL);
    }
  });

  pssh::RunOptions run{.stop_on_errors = false};
  run.command_timeout = a.command_timeout;
  pssh::Output output = client.run_command(command, run);

  auto start = [&](std::size_t k) {
    HostRun& r = runs[k];
    r.started = true;
    pssh::HostOutput h = output[k];
    std::optional<Rsync> rsync;
    try {
      if (!r.bridge.open()) throw system_error("cannot make sockets for rsync");
      rsync = spawn_rsync(rsync_command(a, r.bridge.remote_shell(program)), r.bridge, interrupts.mask_before());
    } catch (const std::exception& e) {
      r.failure = e.what();
      h.close_channel();  // the host's rsync would wait for ever for its peer
      return;
    }
    {
      std::lock_guard lock(r.reaping);  // an interrupt reads it from its own thread
      r.rsync = rsync->pid;
    }
    r.upstream = std::jthread([&r, &command, h] {
      std::string asked = read_all(r.bridge.control.get());
      // Nothing asked: rsync ended before its remote side, and its status says why.
      if (!asked.empty() && asked != command) {
        r.upstream_error = "rsync asked the host to run \"" + asked + "\", not \"" + command + "\"";
        h.close_channel();
      }
      pssh::StdinWriter in = h.stdin_writer();
      char buffer[65536];
      for (ssize_t n; (n = ::read(r.bridge.data.get(), buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        in.write(std::string_view(buffer, static_cast<std::size_t>(n)));
        in.flush();  // what rsync writes waits in its own buffers, not in ours
      }
      in.close();
    });
    r.downstream = std::jthread([&r, h] { relay(h.stdout_chunks(), r.bridge.data.get()); });
    r.errors = std::jthread([&r, h] { relay(h.stderr_chunks(), r.bridge.errors.get()); });
    r.output = std::jthread([&r, &streams, &steps, k, h, rsync = std::move(*rsync)]() mutable {
      drain(rsync, [&](pssh::Stream stream, std::string_view bytes) {
        if (r.file_error) return;
        try {
          streams.take(h, stream, bytes);
        } catch (const std::exception&) {
          r.file_error = true;  // HostStreams said why on stderr
        }
      });
      int wait_status = 0;
      {
        std::lock_guard lock(r.reaping);
        wait_status = wait_for(rsync.pid);
        r.reaped = true;  // its process group may be gone: nobody signals it any more
      }
      steps.put({Step::Kind::rsync_done, k, wait_status});
    });
  };

  std::vector<int> statuses(hosts.size(), 0);
  std::size_t done = 0, failed = 0;
  int status = 0;
  auto report = [&](std::size_t k) {
    HostRun& r = runs[k];
    // Host and rsync are done: a bridge that outlived rsync (stopped by hand)
    // no longer holds the threads that talk to it.
    if (r.output.joinable()) r.output.join();
    r.bridge.shut();
    for (std::jthread* thread : {&r.upstream, &r.downstream, &r.errors})
      if (thread->joinable()) thread->join();
    r.bridge = Bridge();
    pssh::HostOutput h = output[k];
    // prsync's own failure first, then the connection's (a timeout, a host
    // that cannot be reached), then what rsync says of the copy.
    Result result;
    if (!r.failure.empty() || !r.upstream_error.empty()) {
      std::string reason = r.failure.empty() ? r.upstream_error : r.failure;
      result = {1, {false, reason}, reason};
    } else if (h.exception()) {
      result = result_of(Tool::rsync, h);
    } else if (WIFSIGNALED(r.wait_status)) {
      result = {3, {false, "Killed by signal " + std::to_string(WTERMSIG(r.wait_status))}, std::nullopt};
    } else if (WEXITSTATUS(r.wait_status) != 0) {
      result = {4, {false, "Exited with error code " + std::to_string(WEXITSTATUS(r.wait_status))}, std::nullopt};
    }
    if (a.verbose && result.error) {
      try {
        streams.take(h, pssh::Stream::err, *result.error + "\n");
      } catch (const std::exception&) {
        r.file_error = true;
      }
    }
    if (r.file_error) result.status = combine(result.status, 1);
    ++done;
    streams.finish(h, done, result.outcome);
    statuses[k] = result.status;
    failed += result.status != 0;
    status = combine(status, result.status);
    console.progress(done, failed, hosts.size());
  };

  console.progress(0, 0, hosts.size());
  while (done < hosts.size()) {
    Step step = steps.next();
    HostRun& r = runs[step.index];
    switch (step.kind) {
      case Step::Kind::started:
        start(step.index);
        break;
      case Step::Kind::host_done:
        r.host_done = true;
        r.bridge.finish(step.status);
        // Timed out, interrupted or cut: as pssh 2.3 kills its rsync, the
        // host's rsync and bridge go at once, whatever they wait for.
        if (r.rsync > 0 && output[step.index].exception()) {
          std::lock_guard lock(r.reaping);
          if (!r.reaped) ::kill(-r.rsync, SIGKILL);
        }
        // A host that never started, or whose rsync could not start, has no rsync to wait for.
        if (!r.started || !r.failure.empty() || r.rsync_done) report(step.index);
        break;
      case Step::Kind::rsync_done:
        r.rsync_done = true;
        r.wait_status = step.status;
        if (r.host_done) {
          report(step.index);
        } else {
          output[step.index].close_channel();  // the host's rsync would wait for ever for its peer
        }
        break;
    }
  }
  console.finish();
  write_host_lists(a, host_lines(a), statuses);
  return status;
}

}  // namespace cli
