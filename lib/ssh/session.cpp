// Connecting a host: resolve, TCP connect with a deadline, SSH handshake,
// host key, login; retries; aborting from other threads.
#include "ssh/session.hpp"

#include "net/socket.hpp"

#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>

namespace pssh::detail {
namespace {

/// How long a failed step waits for a ProxyCommand that closed the
/// connection to exit, for its status: it is normally exiting already.
constexpr auto proxy_command_exit_wait = std::chrono::seconds(1);

/// The peer of a connected socket has closed its end (a ProxyCommand exited).
bool peer_closed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/// The SessionError of a failed handshake: unlike the others (no memory, no
/// descriptor), worth another attempt (a busy server closing, say).
class HandshakeError : public SessionError {
 public:
  using SessionError::SessionError;
};

}  // namespace

Session::Session(HostSettings settings, std::shared_ptr<ProxyHub> hub, Watchdog& watchdog)
    : settings_(std::move(settings)),
      hub_(std::move(hub)),
      watchdog_(watchdog),
      step_limit_(settings_.timeout) {}

Session::~Session() { close(); }

bool Session::is_open() const {
  return session_ && authenticated_ && !was_cut() &&
         ssh_is_connected(session_.get()) != 0;
}

bool Session::still_open() {
  if (!is_open()) return false;
  pollfd pending{socket_.get(), POLLIN, 0};
  if (::poll(&pending, 1, 0) <= 0) return true;
  // A disconnect message, an EOF, or only a keepalive: libssh tells which
  // once it reads them (ssh_blocking_flush reads nothing when it has
  // nothing to send).
  char byte;
  if (::recv(socket_.get(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0) return false;
  set_backstop(settings_.timeout);
  EventPtr event(ssh_event_new());
  if (event && ssh_event_add_session(event.get(), session_.get()) == SSH_OK) {
    ssh_event_dopoll(event.get(), 0);
    ssh_event_remove_session(event.get(), session_.get());
  }
  return is_open();
}

bool Session::one_channel_only() const {
  // tinysshd ("SSH-2.0-tinyssh_...") refuses a second session channel and
  // hangs up after the first; behind a ProxyCommand such as nc its hang-up
  // may never reach us.
  const char* banner = session_ ? ssh_get_serverbanner(session_.get()) : nullptr;
  return banner != nullptr && std::string_view(banner).find("-tinyssh") != std::string_view::npos;
}

void Session::finish_channel(ssh_channel channel) noexcept {
  if (was_cut() || !ssh_channel_is_open(channel)) return;
  constexpr auto server_eof_wait = std::chrono::seconds(2);
  set_backstop(server_eof_wait);
  if (ssh_channel_send_eof(channel) != SSH_OK) return;
  auto until = Clock::now() + server_eof_wait;
  char sink[4096];
  while (!ssh_channel_is_eof(channel) && ssh_channel_is_open(channel) && Clock::now() < until &&
         !was_cut()) {
    if (ssh_channel_read_timeout(channel, sink, sizeof sink, 0, 100) < 0 ||
        ssh_channel_read_nonblocking(channel, sink, sizeof sink, 1) < 0)
      return;
  }
}

void Session::cut() noexcept {
  cut_ = true;
  std::lock_guard lock(fd_mutex_);
  shut_down_locked();
}

void Session::shut_down_locked() noexcept {
  // Shut down, not closed: the descriptors stay ours (and libssh's
  // duplicate valid) until close(), and every wait on them wakes.
  //
  // The connection only for reading: every libssh wait polls for input, so
  // each wakes, reads the end of the stream and fails the call. Shutting
  // the writing side too made libssh's next write fail, and libssh 0.10
  // then closes its descriptor outside its poll loop and polls descriptor
  // -1 until its own timeout (the step's limit + 2 s): 2 of 200 stops at
  // random moments of connect, login and run, none of 3000 without. The
  // server sees the connection end at close().
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RD);
  if (agent_) ::shutdown(agent_.get(), SHUT_RDWR);
  if (proxy_command_) proxy_command_->terminate();
}

bool Session::wait_for_server() {
  if (was_cut() || ssh_is_connected(handle()) == 0) return false;
  short events = POLLIN;
  if ((ssh_get_poll_flags(handle()) & SSH_WRITE_PENDING) != 0) events |= POLLOUT;
  pollfd server{socket_.get(), events, 0};
  while (::poll(&server, 1, -1) < 0 && errno == EINTR) {
  }
  return true;
}

void Session::cut_at_deadline() noexcept {
  deadline_passed_ = true;
  cut();
}

bool Session::use_agent_socket(UniqueFd agent) {
  int libssh_fd = ::fcntl(agent.get(), F_DUPFD_CLOEXEC, 0);
  if (libssh_fd < 0) return false;
  if (ssh_set_agent_socket(session_.get(), libssh_fd) != SSH_OK) {
    ::close(libssh_fd);
    return false;
  }
  std::lock_guard lock(fd_mutex_);
  agent_ = std::move(agent);
  if (was_cut()) shut_down_locked();
  return true;
}

void Session::close() noexcept {
  {
    std::lock_guard lock(fd_mutex_);
    fd_ = -1;
  }
  // libssh 0.10 closes the socket it was given once ssh_connect ran (at an
  // error, or in ssh_free), except after ssh_disconnect: measured, not
  // documented. It gets a duplicate, so that it never closes a descriptor
  // number we still use, and ours stays valid for cut() until here.
  bool libssh_closes = libssh_connected_;
  if (session_ && ssh_is_connected(session_.get()) && !was_cut()) {
    ssh_disconnect(session_.get());
    libssh_closes = false;
  }
  session_.reset();
  {
    std::lock_guard lock(fd_mutex_);
    agent_.reset();  // after session_: libssh's duplicate is closed with it
  }
  if (!libssh_closes && libssh_fd_ >= 0) ::close(libssh_fd_);
  libssh_fd_ = -1;
  libssh_connected_ = false;
  socket_.reset();
  tunnel_.reset();
  std::unique_ptr<ProxyCommand> command;
  {
    std::lock_guard lock(fd_mutex_);
    command = std::move(proxy_command_);
  }
  command.reset();  // outside the lock: it may wait for the group to end
  authenticated_ = false;
  channels_opened_ = channels_before_work_ = 0;
}

void Session::throw_if_cut(std::string_view what) const {
  if (!was_cut()) return;
  StopReason reason = run_ ? run_->reason() : StopReason::none;
  if (reason == StopReason::cancelled || reason == StopReason::closed_by_caller)
    throw_stopped(reason, what);
  if (deadline_passed()) {
    // The handshake runs under connect_timeout, every other step under timeout.
    std::string limit = step_limit_ != settings_.timeout && step_limit_ == settings_.connect_timeout
                            ? "connect_timeout"
                            : "timeout";
    throw Timeout(settings_.host, std::string(what) + " on " + settings_.destination() +
                                      " timed out after " + duration_text(step_limit_) + " (" + limit +
                                      "); raise the " + limit + " or check the host");
  }
  if (reason == StopReason::timeout) {
    // The run's own timeout: its command's deadline passed (the pump says so).
    throw Timeout(settings_.host, std::string(what) + " on " + settings_.host +
                                      " was cut off: the command's timeout passed");
  }
  throw ConnectionError(settings_.host, std::string(what) + " on " + settings_.destination() +
                                            " failed: the connection was cut");
}

void Session::throw_if_stopped(std::string_view what) const {
  StopReason reason = run_ ? run_->reason() : StopReason::none;
  if (reason != StopReason::none) throw_stopped(reason, what);
}

void Session::throw_stopped(StopReason reason, std::string_view what) const {
  throw Cancelled(settings_.host, std::string(what) + " on " + settings_.host +
                                      (reason == StopReason::closed_by_caller
                                           ? " was stopped by close_channel()"
                                           : " was cancelled"));
}

void Session::throw_if_proxy_failed(std::string_view what) const {
  if (tunnel_) {
    if (auto reason = tunnel_->failure())
      throw ProxyError(settings_.host, std::string(what) + " on " + settings_.destination() +
                                           " failed: " + *reason);
  }
  if (proxy_command_ && socket_ && peer_closed(socket_.get())) {
    auto how = proxy_command_->exit_within(proxy_command_exit_wait);
    // Status 0: it passed on the server's close; the server is to blame.
    if (proxy_command_->exited_successfully()) return;
    throw ProxyError(settings_.host, "ProxyCommand '" + proxy_command_->command() + "' for " +
                                         settings_.host + " " +
                                         how.value_or("closed the connection and still runs") +
                                         " (" + std::string(what) + " failed)");
  }
}

std::string Session::failure_message(std::string_view what) const {
  std::string reason = session_ ? ssh_get_error(session_.get()) : "no session";
  return std::string(what) + " on " + settings_.destination() + " failed: " + reason;
}

void Session::open(const std::function<void(Event::Kind)>& progress) {
  if (settings_.config_error) throw HostArgumentError(settings_.host, *settings_.config_error);
  for (int attempt = 0;; ++attempt) {
    try {
      connect_once(progress);
      return;
    } catch (const Cancelled&) {
      throw;
    } catch (const HostKeyError&) {
      throw;
    } catch (const Error& e) {
      // What fails before the login may pass on the next attempt: the
      // connection, the handshake (a busy server closing), a step's deadline.
      bool retryable = dynamic_cast<const ConnectionError*>(&e) != nullptr ||
                       dynamic_cast<const HandshakeError*>(&e) != nullptr ||
                       dynamic_cast<const Timeout*>(&e) != nullptr;
      bool wrong_name = dynamic_cast<const UnknownHostError*>(&e) != nullptr ||
                        dynamic_cast<const NoIPv6AddressFoundError*>(&e) != nullptr;
      if (!retryable || wrong_name || attempt + 1 >= settings_.num_retries) throw;
    }
    sleep_before_retry();
  }
}

void Session::set_backstop(duration limit) {
  // Later than the watchdog, which owns every deadline, or a timeout would
  // read as a libssh error. (A keepalive waits up to 3 intervals: with a
  // shorter libssh timeout, ssh_send_keepalive gave up first, quietly, and
  // a vanished host was never noticed.)
  long seconds = static_cast<long>((limit.count() + 999) / 1000) + 2;
  ssh_options_set(session_.get(), SSH_OPTIONS_TIMEOUT, &seconds);
}

void Session::sleep_before_retry() {
  // Only a stop ends the retries; the timed-out attempt before does not.
  // Nothing notifies `pause`: the stop or the delay ends the wait.
  std::mutex mutex;
  std::condition_variable_any pause;
  std::unique_lock lock(mutex);
  pause.wait_for(lock, stop_token(), settings_.retry_delay, [] { return false; });
  throw_if_stopped("connecting");
}

UniqueFd Session::connect_socket() {
  auto deadline = Clock::now() + settings_.connect_timeout;
  auto addresses = resolve(settings_.host, settings_.hostname, settings_.port, settings_.ipv6_only,
                           deadline, stop_token());
  throw_if_stopped("resolving the name");
  std::string errors;
  for (const Address& address : addresses) {
    int error = 0;
    UniqueFd fd = start_connect(address, error);
    if (error == 0) {
      {
        std::lock_guard lock(fd_mutex_);
        fd_ = fd.get();
        if (was_cut()) shut_down_locked();
      }
      error = finish_connect(fd.get(), deadline);
      if (error == 0) keep_alive(fd.get(), settings_.keepalive);
      if (error != 0) {
        std::lock_guard lock(fd_mutex_);
        fd_ = -1;
      }
    }
    throw_if_cut("connecting");
    if (error == 0) return fd;
    if (error == ETIMEDOUT) {
      throw Timeout(settings_.host, "connecting to " + settings_.host + " (" + address.text + ":" +
                                        std::to_string(settings_.port) + ") timed out after " +
                                        duration_text(settings_.connect_timeout) +
                                        " (connect_timeout); check the address and firewalls");
    }
    if (!errors.empty()) errors += ", ";
    errors += address.text + ": " + std::strerror(error);
  }
  throw ConnectionError(settings_.host, "cannot connect to " + settings_.host + " port " +
                                            std::to_string(settings_.port) + " (" + errors +
                                            "); check that sshd runs there and the port is right");
}

UniqueFd Session::connect_through_proxy() {
  auto opened = hub_->open(settings_.host, settings_.hostname, settings_.port,
                                          Clock::now() + settings_.connect_timeout,
                                          stop_token());
  if (!opened) {
    throw_if_stopped("connecting");
    throw Cancelled(settings_.host, "connecting to " + settings_.host + " was cancelled");
  }
  tunnel_ = std::move(opened->tunnel);
  std::lock_guard lock(fd_mutex_);
  fd_ = opened->fd.get();
  return std::move(opened->fd);
}

std::optional<std::string> Session::peek_first_line(int fd) {
  // Waits for the server's first bytes (a cut by the watchdog wakes the
  // poll) and takes what came, up to its first line end: a banner cut in
  // two is left to libssh, which reads the rest.
  char text[256];
  for (;;) {
    pollfd readable{fd, POLLIN, 0};
    if (::poll(&readable, 1, -1) < 0 && errno != EINTR) return std::nullopt;
    ssize_t n = ::recv(fd, text, sizeof text, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0 || was_cut()) return std::nullopt;
    std::string_view peeked(text, static_cast<std::size_t>(n));
    return std::string(peeked.substr(0, peeked.find('\n')));
  }
}

void Session::fail_handshake(const std::optional<std::string>& first_line) {
  throw_if_cut("SSH handshake");
  throw_if_proxy_failed("SSH handshake");
  std::string with = "SSH handshake with " + settings_.destination() + " failed: ";
  if (!first_line) {
    throw HandshakeError(settings_.host, with + "the server closed the connection before sending its "
                                                "banner; check that this port is sshd's and that it "
                                                "takes connections from here (MaxStartups, AllowUsers, "
                                                "tcp wrappers; Dropbear: at most 5 logins at once from "
                                                "one address, lower pool_size)");
  }
  const char* banner = ssh_get_serverbanner(session_.get());
  std::string line = first_line->substr(0, first_line->find_last_not_of('\r') + 1);
  if (banner == nullptr && line.rfind("SSH-", 0) != 0) {
    throw HandshakeError(settings_.host, with + "it is not an SSH server: it sent '" + printable(line) +
                                             "'; check the port");
  }
  std::string reason = ssh_get_error(session_.get());
  std::string said = " (server '" + printable(banner ? banner : line) + "')";
  // "disconnected", or a reset when it closed with our packets unread.
  if (reason.rfind("Socket error", 0) == 0) {
    throw HandshakeError(settings_.host, with + "the server closed the connection during key exchange" +
                                             said + "; its log says why (often no common algorithm)");
  }
  throw HandshakeError(settings_.host, with + reason + said);
}

UniqueFd Session::start_proxy_command() {
  std::unique_ptr<ProxyCommand> command;
  try {
    command = std::make_unique<ProxyCommand>(*settings_.proxy_command);
  } catch (const std::system_error& e) {
    throw ProxyError(settings_.host, std::string(e.what()) + " for " + settings_.host);
  }
  UniqueFd fd = command->take_connection();
  std::lock_guard lock(fd_mutex_);
  proxy_command_ = std::move(command);
  fd_ = fd.get();
  // A stop that came first found nothing to cut.
  if (was_cut()) shut_down_locked();
  return fd;
}

namespace {

/// Without a Ciphers setting: AES-GCM first where this CPU has AES and
/// carry-less multiply instructions, else libssh's order (chacha20-poly1305
/// first, the faster one in software). The server takes the client's first
/// cipher it knows; measured on OpenSSH 9.2, 10 hosts x 100 MB, the
/// machine's CPU (mostly sshd's encryption) was ~10% lower with
/// aes128-gcm than with chacha20-poly1305, and the wall time as much;
/// libssh's side costs the same with either. Both are AEAD ciphers that
/// OpenSSH offers by default.
std::optional<std::string> preferred_ciphers() {
#if defined(__x86_64__) || defined(__i386__)
  if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul"))
    return "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,"
           "aes256-ctr,aes192-ctr,aes128-ctr";
#endif
  return std::nullopt;
}

}  // namespace

void Session::set_algorithms(ssh_session s) const {
  static const std::optional<std::string> default_ciphers = preferred_ciphers();
  struct List {
    const std::optional<std::string>& value;
    const char* key;
    std::vector<ssh_options_e> options;
  };
  const List lists[] = {
      {settings_.ciphers ? settings_.ciphers : default_ciphers, "Ciphers",
       {SSH_OPTIONS_CIPHERS_C_S, SSH_OPTIONS_CIPHERS_S_C}},
      {settings_.macs, "MACs", {SSH_OPTIONS_HMAC_C_S, SSH_OPTIONS_HMAC_S_C}},
      {settings_.kex_algorithms, "KexAlgorithms", {SSH_OPTIONS_KEY_EXCHANGE}},
      {settings_.host_key_algorithms, "HostKeyAlgorithms", {SSH_OPTIONS_HOSTKEYS}},
  };
  for (const List& list : lists) {
    if (!list.value) continue;
    for (ssh_options_e option : list.options) {
      if (ssh_options_set(s, option, list.value->c_str()) != SSH_OK) {
        throw HostArgumentError(settings_.host, "the ssh config's " + std::string(list.key) + " '" +
                                                    *list.value + "' for " + settings_.host +
                                                    " names nothing libssh supports (" +
                                                    ssh_get_error(s) + "); fix the ssh config");
      }
    }
  }
}

void Session::connect_once(const std::function<void(Event::Kind)>& progress) {
  close();
  // A timed-out attempt does not doom the next one; a stop does. A cut that
  // races this reset is the run's stop, which the check below sees (its
  // reason is recorded before the engine cuts).
  cut_ = false;
  deadline_passed_ = false;
  throw_if_stopped("connecting");
  progress(Event::Kind::connecting);
  UniqueFd fd = settings_.proxy_command ? start_proxy_command()
                : hub_   ? connect_through_proxy()
                                        : connect_socket();

  session_.reset(ssh_new());
  if (!session_) throw SessionError(settings_.host, "cannot create an SSH session: out of memory");
  ssh_session s = session_.get();
  int no = 0, yes = 1, quiet = SSH_LOG_NOLOG;

  unsigned int port = static_cast<unsigned int>(settings_.port);
  ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &quiet);
  ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no);  // we read ssh_config ourselves
  // libssh names the host in known_hosts by these two (we hand it the
  // socket): HostKeyAlias replaces the name, and the port too, as in ssh(1).
  if (settings_.host_key_alias) port = 22;
  ssh_options_set(s, SSH_OPTIONS_HOST, settings_.host_key_alias.value_or(settings_.hostname).c_str());
  ssh_options_set(s, SSH_OPTIONS_PORT, &port);
  ssh_options_set(s, SSH_OPTIONS_USER, settings_.user.c_str());
  ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, settings_.known_hosts.c_str());
  ssh_options_set(s, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, settings_.global_known_hosts.c_str());
  ssh_options_set(s, SSH_OPTIONS_NODELAY, &yes);
  if (settings_.compress) ssh_options_set(s, SSH_OPTIONS_COMPRESSION, "yes");
  // GSSAPI's default service name follows SSH_OPTIONS_HOST: the real name
  // when an alias took its place.
  if (settings_.gssapi_server_identity || settings_.host_key_alias)
    ssh_options_set(s, SSH_OPTIONS_GSSAPI_SERVER_IDENTITY,
                    settings_.gssapi_server_identity.value_or(settings_.hostname).c_str());
  if (settings_.gssapi_client_identity)
    ssh_options_set(s, SSH_OPTIONS_GSSAPI_CLIENT_IDENTITY, settings_.gssapi_client_identity->c_str());
  int delegate = settings_.gssapi_delegate_credentials ? 1 : 0;
  ssh_options_set(s, SSH_OPTIONS_GSSAPI_DELEGATE_CREDENTIALS, &delegate);
  set_algorithms(s);
  socket_ = std::move(fd);
  libssh_fd_ = ::fcntl(socket_.get(), F_DUPFD_CLOEXEC, 0);
  if (libssh_fd_ < 0) {
    throw SessionError(settings_.host, std::string("cannot set up the socket for ") +
                                           settings_.host + ": " + std::strerror(errno));
  }
  ssh_options_set(s, SSH_OPTIONS_FD, &libssh_fd_);
  set_backstop(settings_.connect_timeout);  // also for the calls made outside a step

  std::optional<std::string> first_line =
      step_within(settings_.connect_timeout, [&] { return peek_first_line(socket_.get()); });
  throw_if_cut("SSH handshake");
  if (!first_line) fail_handshake(first_line);
  libssh_connected_ = true;  // from here on the duplicate is libssh's to close
  if (step_within(settings_.connect_timeout, [&] { return ssh_connect(s); }) != SSH_OK)
    fail_handshake(first_line);
  progress(Event::Kind::connected);
  verify_host_key(*this);
  authenticate(*this);
  authenticated_ = true;
  progress(Event::Kind::authenticated);
}

}  // namespace pssh::detail
