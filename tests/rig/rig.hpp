// The test rig: a throwaway OpenSSH sshd on loopback with its own keys, an
// ssh-agent, and small socket servers that play broken hosts. Used by the
// tests and the demo; never touches the machine's ~/.ssh.
#pragma once

#include <pssh/pssh.hpp>

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rig {

class TempDir {
 public:
  /// A new directory under `parent` (default: the system's temp directory).
  explicit TempDir(const std::filesystem::path& parent = {});
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Runs a program to completion; returns its exit status, stdout in `out`.
int run(const std::vector<std::string>& argv, std::string* out = nullptr,
        const std::vector<std::string>& extra_env = {});
/// Starts a program in the background; returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {});
void stop(pid_t pid);
/// The processes whose parent is `parent` (for sshd: one per connection).
std::vector<pid_t> child_pids(pid_t parent);
/// A TCP port free on loopback right now.
int free_port();
/// The login name of this process's user.
std::string current_user();
/// Loopback address number `i`: 127.0.0.2, 127.0.0.3, ... so that every
/// host of a test is a distinct address served by the same sshd.
std::string loopback_host(std::size_t i);
std::vector<std::string> loopback_hosts(std::size_t count);
void write_file(const std::filesystem::path& path, const std::string& text);
std::string read_file(const std::filesystem::path& path);

class Sshd {
 public:
  struct Config {
    int listeners = 1;  ///< ports; hosts are spread over them (sshd's backlog is 128 each)
    std::vector<std::string> extra_config{};
    std::filesystem::path host_key{};  ///< reuse this host key (else a new one)
    /// "NAME=value" for the sshd process and, through SetEnv, its sessions.
    std::vector<std::string> environment{};
  };
  Sshd() : Sshd(Config{}) {}
  explicit Sshd(Config config);
  ~Sshd();
  Sshd(const Sshd&) = delete;
  Sshd& operator=(const Sshd&) = delete;

  int port(std::size_t listener = 0) const { return ports_.at(listener); }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path user_key() const { return dir() / "user_key"; }
  std::filesystem::path host_key() const { return dir() / "host_key"; }
  std::filesystem::path known_hosts() const { return dir() / "known_hosts"; }
  std::filesystem::path ssh_config() const { return dir() / "ssh_config"; }
  pid_t pid() const { return pid_; }

  /// Options that reach this sshd as the current user with the rig's key and
  /// nothing from the machine: no agent, no ~/.ssh identities, no retries.
  pssh::ClientOptions options() const;
  /// One HostConfig per host spreading `count` hosts over the listeners.
  std::vector<pssh::HostConfig> spread(std::size_t count) const;

 private:
  TempDir dir_;
  std::vector<int> ports_;
  pid_t pid_ = -1;
};

/// A user with a password on this machine, for password and
/// keyboard-interactive tests (created on first use; needs root).
struct PasswordUser {
  std::string name, password;
};
const PasswordUser& password_user();

/// A user of its own with a random password and a sudoers drop-in of its
/// own (/etc/sudoers.d/pssh-rig-<name>, checked with visudo -cf), for the
/// sudo tests: it may run anything as anyone, with its password (sudo
/// never caches it) or NOPASSWD. Both are removed by the destructor. Needs
/// root and sudo. The home is "/", so sshd prints nothing of its own.
class SudoUser {
 public:
  struct Config {
    bool nopasswd = false;
    bool lecture = false;  ///< sudo's lecture before every prompt
  };
  SudoUser() : SudoUser(Config{}) {}
  explicit SudoUser(Config config);
  ~SudoUser();
  SudoUser(const SudoUser&) = delete;
  SudoUser& operator=(const SudoUser&) = delete;

  const std::string& name() const { return name_; }
  const std::string& password() const { return password_; }
  /// The suite sshd's options (Sshd::options()) as this user, by password.
  pssh::ClientOptions options(const Sshd& sshd) const;

 private:
  std::string name_, password_;
  std::filesystem::path sudoers_;
};

/// The login of the servers that read ~/.ssh/authorized_keys (Dropbear,
/// tinysshd): a user the rig creates on first use (needs root), with a home
/// of its own, a password, and the rig's interop key authorized.
struct InteropUser {
  std::string name, password;
  std::filesystem::path home, key;  ///< key: its private key (root's, 0600)
};
const InteropUser& interop_user();

/// One server the interop suite runs against, on a loopback port: OpenSSH's
/// sshd, Dropbear, or tinysshd (started per connection by socat). Every
/// kind lets interop_user() in with its key.
class InteropServer {
 public:
  enum class Kind { openssh, dropbear, tinysshd };
  /// "openssh", "dropbear" or "tinysshd"; std::invalid_argument otherwise.
  static Kind kind_named(const std::string& name);

  explicit InteropServer(Kind kind);
  ~InteropServer();
  InteropServer(const InteropServer&) = delete;
  InteropServer& operator=(const InteropServer&) = delete;

  Kind kind() const { return kind_; }
  const char* name() const;
  int port() const { return port_; }
  /// As Sshd::options(), as interop_user().
  pssh::ClientOptions options() const;
  /// The server's processes serving connections now (one per connection).
  std::vector<pid_t> connection_pids() const;

  // What the server offers (see the README's server matrix): tinysshd
  // takes ed25519 keys only.
  bool has_password() const { return kind_ != Kind::tinysshd; }
  bool has_rsa() const { return kind_ != Kind::tinysshd; }
  bool has_ecdsa() const { return kind_ != Kind::tinysshd; }

 private:
  Kind kind_;
  TempDir dir_;  // under /run: tinysshd refuses keys below a world-writable directory
  std::unique_ptr<Sshd> openssh_;
  int port_ = 0;
  pid_t pid_ = -1;
};

class Agent {
 public:
  Agent();
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;
  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }
  void add(const std::filesystem::path& key) const;

 private:
  TempDir dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

/// An SSH agent socket that takes connections and never answers: a login
/// that asks it waits in the agent until a deadline or a stop.
class SilentAgent {
 public:
  SilentAgent();
  ~SilentAgent();
  SilentAgent(const SilentAgent&) = delete;
  SilentAgent& operator=(const SilentAgent&) = delete;
  const std::string& path() const { return path_; }
  int accepted() const;
  /// Waits until `count` connections were taken; false after `limit`.
  bool wait_for(int count, std::chrono::milliseconds limit) const;

 private:
  void serve();
  TempDir dir_;
  std::string path_;
  int listen_fd_ = -1;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::vector<int> clients_;
  int accepted_ = 0;
  std::thread thread_;
};

/// A throwaway MIT Kerberos KDC on a loopback port for the realm PSSH.TEST,
/// its database, krb5.conf, keytabs and ticket caches in a temp dir of its
/// own (KRB5_CONFIG points there: the machine's /etc/krb5.conf is not read).
class Kdc {
 public:
  static constexpr const char* realm = "PSSH.TEST";
  Kdc();
  ~Kdc();
  Kdc(const Kdc&) = delete;
  Kdc& operator=(const Kdc&) = delete;
  std::filesystem::path krb5_conf() const { return dir_.path() / "krb5.conf"; }
  /// A keytab holding host/<host> for each host, for an sshd.
  std::filesystem::path service_keytab(const std::vector<std::string>& hosts) const;
  /// A forwardable ticket of `user`@PSSH.TEST in a cache file of its own.
  std::filesystem::path ticket_cache(const std::string& user) const;

 private:
  void admin(const std::string& query) const;
  TempDir dir_;
  pid_t pid_ = -1;
};

/// A port that accepts TCP connections and misbehaves.
class FakeServer {
 public:
  enum class Behaviour {
    blackhole,            ///< accepts, never says anything
    banner_then_silence,  ///< sends an SSH banner, then nothing
    close_mid_handshake,  ///< sends a banner, reads the client's, closes
    close_at_once,        ///< closes without a word
    http,                 ///< answers as a web server does, closes
    partial_banner,       ///< sends half a banner line, then nothing
    partial_then_close,   ///< sends half a banner line, closes
  };
  explicit FakeServer(Behaviour behaviour);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  int port() const { return port_; }
  /// Connections accepted so far.
  int accepted() const { return accepted_.load(); }

 private:
  void serve();
  Behaviour behaviour_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::vector<int> clients_;
  std::thread thread_;
};

/// A TCP relay on 127.0.0.1 to a port of 127.0.0.1. freeze() makes every
/// connection through it vanish as a network outage does: nothing more is
/// forwarded, and no reset or FIN reaches either side.
class Relay {
 public:
  explicit Relay(int target_port);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;
  int port() const { return port_; }
  void freeze() { frozen_ = true; }

 private:
  void serve();
  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false}, frozen_{false};
  std::thread thread_;
};

/// A non-blocking TCP socket listening on `address` (INADDR_LOOPBACK,
/// INADDR_ANY) on a free port, which is stored in `port`.
int listen_tcp(std::uint32_t address, int& port);

/// A blocking TCP connection to `port` on 127.0.0.1, or -1.
int connect_loopback(int port);

/// A port nothing listens on.
int refused_port();

}  // namespace rig
