// The rig's processes and sockets.
#include "rig.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace rig {
namespace fs = std::filesystem;

TempDir::TempDir(const fs::path& parent) {
  std::string pattern =
      ((parent.empty() ? fs::temp_directory_path() : parent) / "pssh-rig-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

namespace {

std::vector<std::string> environment_with(const std::vector<std::string>& extra) {
  std::vector<std::string> env(extra);
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra) overridden |= x.rfind(name + "=", 0) == 0;
    if (!overridden) env.push_back(entry);
  }
  return env;
}

pid_t spawn_with(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                 posix_spawn_file_actions_t* actions) {
  std::vector<char*> args, envp;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  auto env = environment_with(extra_env);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], actions, nullptr, args.data(), envp.data());
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string current_user() { return ::getpwuid(::geteuid())->pw_name; }

int run(const std::vector<std::string>& argv, std::string* out,
        const std::vector<std::string>& extra_env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  pid_t pid = spawn_with(argv, extra_env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (out != nullptr) *out = text;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  // Daemons must not hold the caller's stdout/stderr open (a pipe reader
  // would wait for them forever).
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  for (int fd : {0, 1, 2}) posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0);
  pid_t pid = spawn_with(argv, extra_env, &actions);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

void stop(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
}

std::vector<pid_t> child_pids(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces.
    std::string stat = read_file(entry.path() / "stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    if (ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t length = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  ::close(fd);
  return ntohs(a.sin_port);
}

int refused_port() { return free_port(); }

std::string loopback_host(std::size_t i) {
  return "127.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2);
}

std::vector<std::string> loopback_hosts(std::size_t count) {
  std::vector<std::string> hosts;
  for (std::size_t i = 0; i < count; ++i) hosts.push_back(loopback_host(i));
  return hosts;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Sshd::Sshd(Config config) {
  fs::create_directories("/run/sshd");
  fs::create_directories(dir() / "home");
  if (config.host_key.empty()) {
    run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key().string()});
  } else {
    fs::copy_file(config.host_key, host_key());
    fs::permissions(host_key(), fs::perms::owner_read | fs::perms::owner_write);
  }
  run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", user_key().string()});
  fs::copy_file(user_key().string() + ".pub", dir() / "authorized_keys");
  write_file(known_hosts(), "");
  write_file(ssh_config(), "");

  std::ostringstream c;
  // sshd keeps the first value of a keyword: the test's own lines go first.
  for (const auto& line : config.extra_config) c << line << "\n";
  for (int i = 0; i < config.listeners; ++i) {
    int port = free_port();
    ports_.push_back(port);
    // 0.0.0.0 so that every 127.x.y.z address reaches it; AllowUsers below
    // refuses anything not from loopback.
    c << "ListenAddress 0.0.0.0:" << port << "\nListenAddress [::1]:" << port << "\n";
  }
  c << "HostKey " << host_key().string() << "\n"
    << "PidFile " << (dir() / "sshd.pid").string() << "\n"
    << "AuthorizedKeysFile " << (dir() / "authorized_keys").string() << "\n"
    << "AllowUsers *@127.0.0.0/8 *@::1\n"
    << "StrictModes no\nUsePAM no\nUseDNS no\nPrintMotd no\nPermitRootLogin yes\n"
    << "PasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
    << "MaxStartups 4000\nMaxSessions 100\nMaxAuthTries 30\nLogLevel ERROR\n"
    << "SetEnv HOME=" << (dir() / "home").string();
  for (const auto& variable : config.environment) c << ' ' << variable;
  c << "\n"
    << "Subsystem sftp internal-sftp\n";
  write_file(dir() / "sshd_config", c.str());

  pid_ = spawn({"/usr/sbin/sshd", "-D", "-f", (dir() / "sshd_config").string(), "-E",
                (dir() / "sshd.log").string()},
               config.environment);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (int port : ports_) {
    while (!port_open(port)) {
      if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid_, nullptr, WNOHANG) != 0) {
        throw std::runtime_error("test sshd did not start: " + read_file(dir() / "sshd.log"));
      }
      ::usleep(10000);
    }
  }
}

Sshd::~Sshd() { stop(pid_); }

pssh::ClientOptions Sshd::options() const {
  pssh::ClientOptions o;
  o.user = current_user();
  o.port = port();
  o.pkey = pssh::PrivateKey::file(user_key().string());
  o.allow_agent = false;
  o.identity_auth = false;
  o.num_retries = 0;
  o.retry_delay = std::chrono::milliseconds(100);
  // Hundreds of logins at once cost the rig's sshd seconds of CPU on 2 cores
  // while other suites run: the library's default, so that only the tests
  // about deadlines (which set their own) see a Timeout.
  o.timeout = std::chrono::seconds(60);
  o.known_hosts = known_hosts().string();
  o.ssh_config = ssh_config().string();
  // Never the machine's /etc/ssh/ssh_config (Debian's sends LANG, turns GSSAPI on).
  o.system_ssh_config = std::nullopt;
  return o;
}

std::vector<pssh::HostConfig> Sshd::spread(std::size_t count) const {
  std::vector<pssh::HostConfig> configs(count);
  for (std::size_t i = 0; i < count; ++i) configs[i].port = ports_[i % ports_.size()];
  return configs;
}

namespace {

void set_password(const std::string& name, const std::string& password) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  std::string line = name + ":" + password + "\n";
  [[maybe_unused]] auto n = ::write(pipe_fds[1], line.data(), line.size());
  ::close(pipe_fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[0], 0);
  pid_t pid = spawn_with({"chpasswd"}, {}, &actions);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[0]);
  ::waitpid(pid, nullptr, 0);
}

void wait_for_port(int port, pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!port_open(port)) {
    if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid, nullptr, WNOHANG) != 0)
      throw std::runtime_error("test server did not start on port " + std::to_string(port));
    ::usleep(10000);
  }
}

}  // namespace

const PasswordUser& password_user() {
  static const PasswordUser user = [] {
    PasswordUser u{"psshtest", "pssh-test-Passw0rd"};
    if (::getpwnam(u.name.c_str()) == nullptr) {
      run({"useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", u.name});
      set_password(u.name, u.password);
    }
    return u;
  }();
  return user;
}

namespace {

std::atomic<int> sudo_users_made{0};

/// 16 random hex digits.
std::string random_hex() {
  std::random_device device;
  std::uniform_int_distribution<unsigned long long> any;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", any(device));
  return text;
}

}  // namespace

SudoUser::SudoUser(Config config)
    // Per process and object: suites run at once, and each object removes
    // its own user at its end.
    : name_("psshsudo" + std::to_string(::getpid()) + "-" + std::to_string(++sudo_users_made)),
      password_("pssh-sudo-" + random_hex()),
      sudoers_("/etc/sudoers.d/pssh-rig-" + name_) {
  if (::getpwnam(name_.c_str()) == nullptr) run({"useradd", "-M", "-d", "/", "-s", "/bin/sh", name_});
  set_password(name_, password_);
  std::string rules = "Defaults:" + name_ + " timestamp_timeout=0" +
                      (config.lecture ? ", lecture=always" : "") + "\n" + name_ +
                      " ALL=(ALL:ALL) " + (config.nopasswd ? "NOPASSWD: " : "") + "ALL\n";
  TempDir draft;
  write_file(draft.path() / "sudoers", rules);
  std::string checked;
  if (run({"visudo", "-cf", (draft.path() / "sudoers").string()}, &checked) != 0)
    throw std::runtime_error("visudo refused the rig's sudoers lines: " + checked);
  fs::copy_file(draft.path() / "sudoers", sudoers_, fs::copy_options::overwrite_existing);
  fs::permissions(sudoers_, fs::perms::owner_read | fs::perms::group_read);
}

SudoUser::~SudoUser() {
  std::error_code ignored;
  fs::remove(sudoers_, ignored);
  run({"userdel", "-f", name_});
}

pssh::ClientOptions SudoUser::options(const Sshd& sshd) const {
  pssh::ClientOptions o = sshd.options();
  o.user = name_;
  o.password = password_;
  o.pkey.reset();
  return o;
}

const InteropUser& interop_user() {
  static const InteropUser user = [] {
    InteropUser u{"psshinterop", "pssh-interop-Passw0rd", "/home/psshinterop", "/home/psshinterop/rig_key"};
    // Test processes start at once: one creates the user and keys, the
    // others wait for it.
    int lock = ::open("/run/pssh-rig-interop.lock", O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ::flock(lock, LOCK_EX);
    if (::getpwnam(u.name.c_str()) == nullptr) {
      run({"useradd", "-m", "-d", u.home.string(), "-s", "/bin/sh", u.name});
      set_password(u.name, u.password);
    }
    if (!fs::exists(u.key)) {
      fs::path ssh_dir = u.home / ".ssh";
      fs::create_directories(ssh_dir);
      std::string authorized;
      for (const char* type : {"ed25519", "ecdsa", "rsa"}) {
        fs::path key = u.key.string() + (type == std::string("ed25519") ? "" : std::string("_") + type);
        fs::remove(key);
        run({"ssh-keygen", "-q", "-t", type, "-N", "", "-f", key.string()});
        authorized += read_file(key.string() + ".pub");
      }
      write_file(ssh_dir / "authorized_keys", authorized);
      run({"chown", "-R", u.name + ":", ssh_dir.string()});
      fs::permissions(ssh_dir, fs::perms::owner_all);
    }
    ::flock(lock, LOCK_UN);
    ::close(lock);
    return u;
  }();
  return user;
}

InteropServer::Kind InteropServer::kind_named(const std::string& name) {
  if (name == "openssh") return Kind::openssh;
  if (name == "dropbear") return Kind::dropbear;
  if (name == "tinysshd") return Kind::tinysshd;
  throw std::invalid_argument("no interop server '" + name + "': openssh, dropbear or tinysshd");
}

const char* InteropServer::name() const {
  switch (kind_) {
    case Kind::openssh: return "openssh";
    case Kind::dropbear: return "dropbear";
    default: return "tinysshd";
  }
}

InteropServer::InteropServer(Kind kind) : kind_(kind), dir_("/run") {
  interop_user();  // the login exists before the server takes connections
  write_file(dir_.path() / "known_hosts", "");
  switch (kind) {
    case Kind::openssh:
      openssh_ = std::make_unique<Sshd>(Sshd::Config{.extra_config = {"AuthorizedKeysFile .ssh/authorized_keys"}});
      port_ = openssh_->port();
      return;
    case Kind::dropbear: {
      fs::path host_key = dir_.path() / "dropbear_host_key";
      run({"dropbearkey", "-t", "ed25519", "-f", host_key.string()});
      port_ = free_port();
      pid_ = spawn({"dropbear", "-F", "-E", "-p", "127.0.0.1:" + std::to_string(port_), "-r",
                    host_key.string(), "-P", (dir_.path() / "dropbear.pid").string()});
      break;
    }
    case Kind::tinysshd: {
      fs::path keys = dir_.path() / "tinysshd_keys";
      run({"tinysshd-makekey", keys.string()});
      port_ = free_port();
      pid_ = spawn({"socat", "TCP-LISTEN:" + std::to_string(port_) + ",bind=127.0.0.1,reuseaddr,fork",
                    "EXEC:/usr/sbin/tinysshd -x sftp=/usr/lib/openssh/sftp-server " + keys.string()});
      break;
    }
  }
  wait_for_port(port_, pid_);
}

InteropServer::~InteropServer() {
  if (pid_ < 0) return;
  for (pid_t child : connection_pids()) ::kill(child, SIGTERM);
  stop(pid_);
}

pssh::ClientOptions InteropServer::options() const {
  pssh::ClientOptions o = openssh_ ? openssh_->options() : pssh::ClientOptions{};
  o.user = interop_user().name;
  o.port = port_;
  o.pkey = pssh::PrivateKey::file(interop_user().key.string());
  o.allow_agent = false;
  o.identity_auth = false;
  o.num_retries = 0;
  o.retry_delay = std::chrono::milliseconds(100);
  o.known_hosts = (dir_.path() / "known_hosts").string();
  o.ssh_config = std::nullopt;
  o.system_ssh_config = std::nullopt;
  return o;
}

std::vector<pid_t> InteropServer::connection_pids() const {
  return child_pids(openssh_ ? openssh_->pid() : pid_);
}

namespace {
bool accepts_connections(const std::string& unix_socket) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  unix_socket.copy(address.sun_path, sizeof(address.sun_path) - 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  bool connected = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}
}  // namespace

Agent::Agent() : socket_((dir_.path() / "agent.sock").string()) {
  pid_ = spawn({"ssh-agent", "-D", "-a", socket_});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // ssh-agent binds the socket before it listens: the file appearing is not
  // enough, a connect must succeed.
  while (!accepts_connections(socket_)) {
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("ssh-agent did not start");
    ::usleep(10000);
  }
}

Agent::~Agent() { stop(pid_); }

void Agent::add(const fs::path& key) const {
  std::string out;
  if (run({"ssh-add", "-q", key.string()}, &out, {"SSH_AUTH_SOCK=" + socket_}) != 0)
    throw std::runtime_error("ssh-add failed: " + out);
}

namespace {
std::vector<std::string> kdc_environment(const fs::path& dir) {
  return {"KRB5_CONFIG=" + (dir / "krb5.conf").string(), "KRB5_KDC_PROFILE=" + (dir / "kdc.conf").string()};
}
}  // namespace

Kdc::Kdc() {
  const fs::path& dir = dir_.path();
  int port = free_port();
  // TCP only (udp_preference_limit 1), no DNS, no reverse lookups: the
  // service principal is host/<the address as given>.
  write_file(dir / "krb5.conf", std::string("[libdefaults]\n default_realm = ") + realm +
                                    "\n dns_lookup_realm = false\n dns_lookup_kdc = false\n rdns = false\n"
                                    " dns_canonicalize_hostname = false\n forwardable = true\n"
                                    " udp_preference_limit = 1\n[realms]\n " + realm +
                                    " = {\n  kdc = 127.0.0.1:" + std::to_string(port) + "\n }\n");
  write_file(dir / "kdc.conf", "[kdcdefaults]\n kdc_ports = " + std::to_string(port) + "\n kdc_tcp_ports = " +
                                   std::to_string(port) + "\n[realms]\n " + realm + " = {\n  database_name = " +
                                   (dir / "principal").string() + "\n  key_stash_file = " +
                                   (dir / "stash").string() + "\n  acl_file = " + (dir / "kadm5.acl").string() +
                                   "\n }\n[logging]\n kdc = FILE:" + (dir / "kdc.log").string() + "\n");
  std::string out;
  if (run({"/usr/sbin/kdb5_util", "create", "-s", "-r", realm, "-P", "rig-master-key"}, &out,
          kdc_environment(dir)) != 0)
    throw std::runtime_error("kdb5_util create failed: " + out);
  pid_ = spawn({"/usr/sbin/krb5kdc", "-n", "-P", (dir / "kdc.pid").string()}, kdc_environment(dir));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!port_open(port)) {
    if (std::chrono::steady_clock::now() > deadline || ::waitpid(pid_, nullptr, WNOHANG) != 0)
      throw std::runtime_error("krb5kdc did not start");
    ::usleep(10000);
  }
}

Kdc::~Kdc() { stop(pid_); }

void Kdc::admin(const std::string& query) const {
  std::string out;
  if (run({"/usr/sbin/kadmin.local", "-q", query}, &out, kdc_environment(dir_.path())) != 0 ||
      out.find("rror") != std::string::npos)
    throw std::runtime_error("kadmin.local -q '" + query + "' failed: " + out);
}

fs::path Kdc::service_keytab(const std::vector<std::string>& hosts) const {
  fs::path keytab = dir_.path() / "sshd.keytab";
  for (const auto& host : hosts) {
    admin("addprinc -clearpolicy -randkey host/" + host);
    admin("ktadd -k " + keytab.string() + " host/" + host);
  }
  return keytab;
}

fs::path Kdc::ticket_cache(const std::string& user) const {
  fs::path keytab = dir_.path() / (user + ".keytab"), cache = dir_.path() / (user + ".ccache");
  admin("addprinc -clearpolicy -randkey " + user);
  admin("ktadd -k " + keytab.string() + " " + user);
  std::string out;
  if (run({"kinit", "-f", "-k", "-t", keytab.string(), user}, &out,
          {"KRB5_CONFIG=" + krb5_conf().string(), "KRB5CCNAME=FILE:" + cache.string()}) != 0)
    throw std::runtime_error("kinit " + user + " failed: " + out);
  return cache;
}

int listen_tcp(std::uint32_t address, int& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 1024) != 0)
    throw std::runtime_error(std::string("cannot listen: ") + std::strerror(errno));
  socklen_t length = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &length);
  port = ntohs(a.sin_port);
  return fd;
}

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  ::close(fd);
  return -1;
}

FakeServer::FakeServer(Behaviour behaviour) : behaviour_(behaviour) {
  listen_fd_ = listen_tcp(INADDR_LOOPBACK, port_);
  thread_ = std::thread([this] { serve(); });
}

FakeServer::~FakeServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  thread_.join();
  ::close(listen_fd_);
  for (int fd : clients_) ::close(fd);
}

// Replies are sent without SIGPIPE: a client may have hung up first.
void FakeServer::serve() {
  while (!stopping_) {
    // Silent clients are kept until they hang up: reading never answers them.
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (int c : clients_) fds.push_back({c, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (std::size_t k = 1; k < fds.size(); ++k) {
      char ignored[256];
      if (fds[k].revents != 0 && ::read(fds[k].fd, ignored, sizeof ignored) <= 0) {
        ::close(fds[k].fd);
        std::erase(clients_, fds[k].fd);
      }
    }
    if (fds[0].revents == 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ++accepted_;
    if (behaviour_ == Behaviour::blackhole) {
      clients_.push_back(client);
      continue;
    }
    if (behaviour_ == Behaviour::close_at_once) {
      ::close(client);
      continue;
    }
    if (behaviour_ == Behaviour::http) {
      const char answer[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
      [[maybe_unused]] auto n = ::send(client, answer, sizeof answer - 1, MSG_NOSIGNAL);
      ::close(client);
      continue;
    }
    if (behaviour_ == Behaviour::partial_banner || behaviour_ == Behaviour::partial_then_close) {
      const char half[] = "SSH-2.0-OpenSSH_9";
      [[maybe_unused]] auto n = ::send(client, half, sizeof half - 1, MSG_NOSIGNAL);
      if (behaviour_ == Behaviour::partial_then_close) ::close(client);
      else clients_.push_back(client);
      continue;
    }
    const char banner[] = "SSH-2.0-OpenSSH_9.2p1 FakeServer\r\n";
    [[maybe_unused]] auto n = ::send(client, banner, sizeof banner - 1, MSG_NOSIGNAL);
    if (behaviour_ == Behaviour::banner_then_silence) {
      clients_.push_back(client);
      continue;
    }
    char buffer[256];
    pollfd c{client, POLLIN, 0};
    if (::poll(&c, 1, 2000) > 0) n = ::read(client, buffer, sizeof buffer);
    ::close(client);
  }
}

SilentAgent::SilentAgent() : path_((dir_.path() / "agent.sock").string()) {
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path_.c_str());
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 256) != 0)
    throw std::runtime_error("cannot listen on " + path_ + ": " + std::strerror(errno));
  thread_ = std::thread([this] { serve(); });
}

SilentAgent::~SilentAgent() {
  ::shutdown(listen_fd_, SHUT_RDWR);  // ends the accept below
  thread_.join();
  ::close(listen_fd_);
  for (int fd : clients_) ::close(fd);
}

void SilentAgent::serve() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::lock_guard lock(mutex_);
    clients_.push_back(fd);
    ++accepted_;
    changed_.notify_all();
  }
}

int SilentAgent::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

bool SilentAgent::wait_for(int count, std::chrono::milliseconds limit) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, limit, [&] { return accepted_ >= count; });
}

Relay::Relay(int target_port) : target_port_(target_port) {
  listen_fd_ = listen_tcp(INADDR_LOOPBACK, port_);
  thread_ = std::thread([this] { serve(); });
}

Relay::~Relay() {
  stopping_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void Relay::serve() {
  std::vector<std::pair<int, int>> pairs;  // client side, server side
  while (!stopping_) {
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    if (!frozen_)
      for (auto [a, b] : pairs) fds.push_back({a, POLLIN, 0}), fds.push_back({b, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
    for (std::size_t k = 1; k < fds.size(); ++k) {
      if (fds[k].revents == 0) continue;
      auto& pair = pairs[(k - 1) / 2];
      int to = (k % 2 == 1) ? pair.second : pair.first;
      char buffer[65536];
      ssize_t n = ::read(fds[k].fd, buffer, sizeof buffer);
      if (n <= 0) {
        ::shutdown(to, SHUT_WR);
        continue;
      }
      for (ssize_t sent = 0; sent < n;) {
        // A peer that hung up is an EPIPE, not a SIGPIPE that ends the tests.
        ssize_t w = ::send(to, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
        if (w <= 0) break;
        sent += w;
      }
    }
    if (fds[0].revents == 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int server = connect_loopback(target_port_);
    if (server < 0) {
      ::close(client);
      continue;
    }
    pairs.emplace_back(client, server);
  }
  for (auto [a, b] : pairs) ::close(a), ::close(b);
}

}  // namespace rig
