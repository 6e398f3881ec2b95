// Keys held by the program (ClientOptions/HostConfig::identities): every key
// type from file and from memory, passphrases, the order keys are tried in,
// per-host lists, certificates, and errors that keep secrets out.
#include "common.hpp"

#include <pssh/json.hpp>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string phrase = "Key-Phrase-5e1d9c";

/// Keys made once for the suite by ssh-keygen, by name.
fs::path suite_key(const std::string& name, const std::vector<std::string>& type,
                   const std::string& passphrase = "") {
  static rig::TempDir dir;
  static std::map<std::string, fs::path> made;
  auto& path = made[name];
  if (path.empty()) {
    path = dir.path() / name;
    std::vector<std::string> argv{"ssh-keygen", "-q", "-N", passphrase, "-C", name, "-f", path.string()};
    argv.insert(argv.end(), type.begin(), type.end());
    REQUIRE(rig::run(argv) == 0);
  }
  return path;
}

fs::path ed25519(const std::string& name) { return suite_key(name, {"-t", "ed25519"}); }

/// Replaces the sshd's authorized_keys (read at each login) with these keys.
void authorize(const rig::Sshd& sshd, const std::vector<fs::path>& keys) {
  std::string text;
  for (const auto& key : keys) text += rig::read_file(key.string() + ".pub");
  rig::write_file(sshd.dir() / "authorized_keys", text);
}

/// "SHA256:..." of a key, as sshd logs it.
std::string fingerprint(const fs::path& key) {
  std::string out;
  rig::run({"ssh-keygen", "-lf", key.string() + ".pub"}, &out);
  auto start = out.find(' ') + 1;
  return out.substr(start, out.find(' ', start) - start);
}

/// An sshd that logs each publickey attempt (LogLevel VERBOSE), with more lines first.
std::unique_ptr<rig::Sshd> verbose_sshd(std::vector<std::string> extra = {}) {
  extra.insert(extra.begin(), "LogLevel VERBOSE");
  return std::make_unique<rig::Sshd>(
      rig::Sshd::Config{.listeners = 1, .extra_config = extra, .host_key = {}});
}

/// The sshd's options without the rig's key.
pssh::ClientOptions keyless(const rig::Sshd& sshd) {
  auto options = sshd.options();
  options.pkey.reset();
  return options;
}

pssh::Output run_true(const std::vector<std::string>& hosts, const pssh::ClientOptions& options,
                      const std::vector<pssh::HostConfig>& config = {}) {
  pssh::ParallelClient client(hosts, options, config);
  auto output = client.run_command("true", {.stop_on_errors = false});
  client.join(output);
  return output;
}

/// The PKeyFileError a client's construction throws, as text ("" if none).
std::string construction_error(const pssh::ClientOptions& options, const std::string& host = "127.0.0.2") {
  try {
    pssh::Client client(host, options);
  } catch (const pssh::PKeyFileError& e) {
    CHECK(e.host() == host);
    return e.what();
  }
  return "";
}

/// An ssh-agent that holds no key and counts the connections made to it.
class CountingAgent {
 public:
  CountingAgent() : socket_((dir_.path() / "agent.sock").string()) {
    listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    socket_.copy(address.sun_path, sizeof(address.sun_path) - 1);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(listen_fd_, 16) == 0);
    thread_ = std::thread([this] { serve(); });
  }
  ~CountingAgent() {
    stopping_ = true;
    thread_.join();
    ::close(listen_fd_);
  }
  CountingAgent(const CountingAgent&) = delete;
  CountingAgent& operator=(const CountingAgent&) = delete;
  const std::string& socket() const { return socket_; }
  int connections() const { return connections_.load(); }

 private:
  void serve() {
    std::vector<int> clients;
    while (!stopping_) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (int c : clients) fds.push_back({c, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        clients.push_back(::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC));
        ++connections_;
      }
      for (std::size_t i = 1; i < fds.size(); ++i)
        if (fds[i].revents != 0) answer(fds[i].fd);
    }
    for (int c : clients) ::close(c);
  }
  /// Every request gets "no identities" (SSH2_AGENT_IDENTITIES_ANSWER, 0 keys).
  static void answer(int fd) {
    unsigned char request[1024];
    if (::read(fd, request, sizeof(request)) <= 0) return;
    const unsigned char none[] = {0, 0, 0, 5, 12, 0, 0, 0, 0};
    CHECK(::write(fd, none, sizeof(none)) == static_cast<ssize_t>(sizeof(none)));
  }

  rig::TempDir dir_;
  std::string socket_;
  int listen_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

/// Files opened in a directory while it lives (inotify).
class OpenWatch {
 public:
  explicit OpenWatch(const fs::path& directory) : fd_(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    REQUIRE(::inotify_add_watch(fd_, directory.c_str(), IN_OPEN) >= 0);
  }
  ~OpenWatch() { ::close(fd_); }
  OpenWatch(const OpenWatch&) = delete;
  OpenWatch& operator=(const OpenWatch&) = delete;
  /// The names opened since the last call.
  std::vector<std::string> opened() {
    std::vector<std::string> names;
    alignas(inotify_event) char buffer[4096];
    ssize_t n;
    while ((n = ::read(fd_, buffer, sizeof(buffer))) > 0) {
      for (char* p = buffer; p < buffer + n;) {
        auto* event = reinterpret_cast<inotify_event*>(p);
        if (event->len > 0) names.emplace_back(event->name);
        p += sizeof(inotify_event) + event->len;
      }
    }
    return names;
  }

 private:
  int fd_;
};

/// Everything libssh logs on this thread while it lives (libssh's log
/// level and callback are per thread), at its most verbose level.
class LibsshLog {
 public:
  LibsshLog() {
    ssh_set_log_userdata(this);
    ssh_set_log_callback(&LibsshLog::record);
    ssh_set_log_level(SSH_LOG_FUNCTIONS);
  }
  ~LibsshLog() {
    ssh_set_log_level(SSH_LOG_NOLOG);
    ssh_set_log_callback(nullptr);
    ssh_set_log_userdata(nullptr);
  }
  LibsshLog(const LibsshLog&) = delete;
  LibsshLog& operator=(const LibsshLog&) = delete;
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  static void record(int, const char* function, const char* line, void* self) {
    auto* log = static_cast<LibsshLog*>(self);
    std::lock_guard lock(log->mutex_);
    log->text_ += std::string(function) + ": " + line + "\n";
  }
  std::mutex mutex_;
  std::string text_;
};

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("identities") {
  TEST_CASE("every key type logs in from a file and from memory, with and without a passphrase") {
    struct KeyType {
      std::string name;
      std::vector<std::string> keygen;
      std::string algorithm;  // the only one the sshd accepts
    };
    const KeyType types[] = {
        {"ed25519", {"-t", "ed25519"}, "ssh-ed25519"},
        {"ecdsa-p256", {"-t", "ecdsa", "-b", "256"}, "ecdsa-sha2-nistp256"},
        {"ecdsa-p384", {"-t", "ecdsa", "-b", "384"}, "ecdsa-sha2-nistp384"},
        {"ecdsa-p521", {"-t", "ecdsa", "-b", "521"}, "ecdsa-sha2-nistp521"},
        {"rsa", {"-t", "rsa", "-b", "2048"}, "rsa-sha2-512"},  // rsa-sha2-256: next case
    };
    for (const auto& type : types) {
      CAPTURE(type.algorithm);
      auto plain = suite_key(type.name, type.keygen);
      auto locked = suite_key(type.name + "-locked", type.keygen, phrase);
      auto sshd = verbose_sshd({"PubkeyAcceptedAlgorithms " + type.algorithm});
      authorize(*sshd, {plain, locked});
      // One host per way of holding the key, each with its own list.
      std::vector<pssh::HostConfig> config(4);
      config[0].identities = {pssh::PrivateKey::file(plain.string())};
      config[1].identities = {pssh::PrivateKey::file(locked.string(), phrase)};
      config[2].identities = {pssh::PrivateKey::memory(rig::read_file(plain))};
      config[3].identities = {pssh::PrivateKey::memory(rig::read_file(locked), phrase)};
      auto output = run_true(rig::loopback_hosts(4), keyless(*sshd), config);
      for (const auto& h : output) {
        INFO(h.host() << ": " << error_message(h));
        CHECK(h.exit_code() == 0);
      }
      CHECK(count(rig::read_file(sshd->dir() / "sshd.log"), "Accepted publickey") == 4);
    }
  }

  TEST_CASE("RSA signs with rsa-sha2-256 where the server offers no rsa-sha2-512 (Dropbear)") {
    rig::InteropServer dropbear(rig::InteropServer::Kind::dropbear);
    auto options = dropbear.options();
    options.pkey.reset();
    auto rsa = rig::interop_user().key.string() + "_rsa";
    options.identities = {pssh::PrivateKey::memory(rig::read_file(rsa))};
    auto output = run_true({"127.0.0.1"}, options);
    INFO(error_message(output[0]));
    CHECK(output[0].exit_code() == 0);

    // OpenSSH's sshd offers rsa-sha2-512 in server-sig-algs whatever its
    // PubkeyAcceptedAlgorithms: libssh 0.10.6 (as ssh(1)) then signs with
    // it, and an sshd taking rsa-sha2-256 only refuses (README, limits).
    auto key = suite_key("rsa", {"-t", "rsa", "-b", "2048"});
    auto sshd = verbose_sshd({"PubkeyAcceptedAlgorithms rsa-sha2-256"});
    authorize(*sshd, {key});
    options = keyless(*sshd);
    options.identities = {pssh::PrivateKey::file(key.string())};
    output = run_true({"127.0.0.2"}, options);
    CHECK(host_error_is<pssh::AuthenticationError>(output[0]));
  }

  TEST_CASE("PEM and PKCS#8 keys (ssh-keygen -m), encrypted, log in from memory") {
    auto sshd = verbose_sshd();
    std::vector<fs::path> keys;
    for (const char* format : {"PEM", "PKCS8"}) {
      keys.push_back(
          suite_key(std::string("rsa-") + format, {"-t", "rsa", "-b", "2048", "-m", format}, phrase));
      keys.push_back(suite_key(std::string("ecdsa-") + format, {"-t", "ecdsa", "-m", format}, phrase));
    }
    authorize(*sshd, keys);
    std::vector<pssh::HostConfig> config(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i)
      config[i].identities = {pssh::PrivateKey::memory(rig::read_file(keys[i]), phrase)};
    auto output = run_true(rig::loopback_hosts(keys.size()), keyless(*sshd), config);
    for (const auto& h : output) {
      INFO(h.host() << ": " << error_message(h));
      CHECK(h.exit_code() == 0);
    }
  }

  TEST_CASE("keys are tried in order: refused ones move on to the next, and all refused lists each") {
    auto first = ed25519("first"), second = ed25519("second"), third = ed25519("third");
    auto sshd = verbose_sshd();
    authorize(*sshd, {third});
    auto options = keyless(*sshd);
    options.identities = {pssh::PrivateKey::file(first.string()),
                          pssh::PrivateKey::memory(rig::read_file(second)),
                          pssh::PrivateKey::memory(rig::read_file(third))};
    auto output = run_true({"127.0.0.2"}, options);
    INFO(error_message(output[0]));
    CHECK(output[0].exit_code() == 0);
    // sshd's log: the first two failed, then the third was accepted.
    std::string log = rig::read_file(sshd->dir() / "sshd.log");
    INFO(log);
    auto failed_first = log.find("Failed publickey");
    auto at_first = log.find(fingerprint(first));
    auto at_second = log.find(fingerprint(second));
    auto accepted = log.find("Accepted publickey");
    auto at_third = log.rfind(fingerprint(third));
    REQUIRE(failed_first != std::string::npos);
    REQUIRE(accepted != std::string::npos);
    CHECK(at_first < at_second);
    CHECK(at_second < accepted);
    CHECK(accepted < at_third);
    CHECK(count(log, "Failed publickey") == 2);

    authorize(*sshd, {});
    output = run_true({"127.0.0.2"}, options);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[0]));
    CHECK(error_message(output[0]) ==
          "cannot authenticate to " + *options.user + "@127.0.0.2:" + std::to_string(sshd->port()) +
              ": tried publickey (" + first.string() + ", ssh-ed25519), publickey (in-memory key #2, "
              "ssh-ed25519), publickey (in-memory key #3, ssh-ed25519); server allows "
              "publickey,password; server said: Access denied for 'publickey'. Authentication that "
              "can continue: publickey,password; check the user, keys, agent or password");
  }

  TEST_CASE("a server that hangs up at MaxAuthTries is an AuthenticationError at once, naming the keys tried") {
    // sshd disconnects at its MaxAuthTries-th refusal instead of refusing
    // again; libssh 0.10's own wait then slept out the step timeout.
    auto first = ed25519("first"), second = ed25519("second"), third = ed25519("third");
    auto sshd = verbose_sshd({"MaxAuthTries 2"});
    authorize(*sshd, {});
    auto options = keyless(*sshd);
    options.identities = {pssh::PrivateKey::file(first.string()), pssh::PrivateKey::file(second.string()),
                          pssh::PrivateKey::file(third.string())};
    options.allow_agent = false;
    options.identity_auth = false;
    options.timeout = 60s;
    auto start = std::chrono::steady_clock::now();
    auto output = run_true({"127.0.0.2"}, options);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[0]));
    CHECK(error_message(output[0]) ==
          "cannot authenticate to " + *options.user + "@127.0.0.2:" + std::to_string(sshd->port()) +
              ": the server closed the connection after publickey (" + first.string() +
              ", ssh-ed25519), publickey (" + second.string() +
              ", ssh-ed25519) (Received SSH_MSG_DISCONNECT: 2:Too many authentication failures); offer fewer "
              "keys (IdentitiesOnly, pkey or identities), or raise the server's MaxAuthTries");
    CHECK(seconds_since(start) < 5 * slowdown);
  }

  TEST_CASE("pkey first, then identities, then the agent, then ~/.ssh; neither is asked when a key is taken") {
    auto good = ed25519("good"), refused = ed25519("refused"), default_key = ed25519("default");
    auto sshd = verbose_sshd();
    authorize(*sshd, {good});
    fs::path ssh_dir = fs::path(std::getenv("HOME")) / ".ssh";
    fs::create_directories(ssh_dir);
    fs::copy_file(default_key, ssh_dir / "id_ed25519", fs::copy_options::overwrite_existing);
    CountingAgent agent;
    ::setenv("SSH_AUTH_SOCK", agent.socket().c_str(), 1);
    OpenWatch watch(ssh_dir);
    auto options = keyless(*sshd);
    options.allow_agent = true;
    options.identity_auth = true;

    options.identities = {pssh::PrivateKey::file(refused.string()), pssh::PrivateKey::file(good.string())};
    auto output = run_true({"127.0.0.2"}, options);
    INFO(error_message(output[0]));
    CHECK(output[0].exit_code() == 0);
    CHECK(agent.connections() == 0);
    CHECK(watch.opened().empty());

    // A refused pkey and identities: the agent (no key), then ~/.ssh.
    options.pkey = pssh::PrivateKey::file(refused.string());
    options.identities = {pssh::PrivateKey::memory(rig::read_file(refused))};
    output = run_true({"127.0.0.2"}, options);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[0]));
    std::string message = error_message(output[0]);
    CHECK(message.find(": tried publickey (" + refused.string() +
                       ", ssh-ed25519), publickey (in-memory key #1, ssh-ed25519), publickey (agent), "
                       "publickey (" + (ssh_dir / "id_ed25519").string() + "); server allows") !=
          std::string::npos);
    CHECK(agent.connections() == 1);
    CHECK(watch.opened() == std::vector<std::string>{"id_ed25519"});

    // identities_only: pkey, identities and ~/.ssh; never the agent.
    authorize(*sshd, {default_key});
    options.identities_only = true;
    output = run_true({"127.0.0.2"}, options);
    CHECK(output[0].exit_code() == 0);
    CHECK(agent.connections() == 1);
    ::unsetenv("SSH_AUTH_SOCK");
    fs::remove(ssh_dir / "id_ed25519");
  }

  TEST_CASE("the program's Agent is asked in place of the system agent; keys added later serve the next login") {
    auto good = ed25519("good"), refused = ed25519("refused");
    auto sshd = verbose_sshd();
    authorize(*sshd, {good});
    CountingAgent system_agent;
    ::setenv("SSH_AUTH_SOCK", system_agent.socket().c_str(), 1);
    auto agent = std::make_shared<pssh::Agent>();
    agent->add_key(pssh::PrivateKey::file(refused.string()));
    auto options = keyless(*sshd);
    options.allow_agent = true;  // the rig's default is false
    options.identity_auth = false;
    options.agent = agent;
    pssh::ParallelClient client({"127.0.0.2"}, options);

    // Only a key the server refuses: the login says so, and the system agent was never asked.
    auto output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[0]));
    CHECK(error_message(output[0]).find("tried publickey (agent key " + refused.string() + ", ssh-ed25519); server") !=
          std::string::npos);
    CHECK(system_agent.connections() == 0);

    // A key added to the agent the client already holds: its next login takes it.
    agent->add_key(pssh::PrivateKey::memory(rig::read_file(good)));
    CHECK(agent->size() == 2);
    output = client.run_command("true", {.stop_on_errors = false});
    client.join(output);
    INFO(error_message(output[0]));
    CHECK(output[0].exit_code() == 0);
    CHECK(system_agent.connections() == 0);

    // IdentitiesOnly keeps the system agent away, not the program's own keys.
    options.identities_only = true;
    output = run_true({"127.0.0.2"}, options);
    CHECK(output[0].exit_code() == 0);
    options.identities_only = false;

    // Without the program's agent, the system agent is asked: the count above could have moved.
    options.agent.reset();
    output = run_true({"127.0.0.2"}, options);
    CHECK(system_agent.connections() == 1);
    ::unsetenv("SSH_AUTH_SOCK");

    // A key that cannot be used is refused when it is added, naming it and no host.
    try {
      agent->add_key(pssh::PrivateKey::file((refused.string() + ".missing")));
      FAIL("a missing key file was taken");
    } catch (const pssh::PKeyFileError& e) {
      CHECK(e.host().empty());
      CHECK(std::string(e.what()).find(refused.string() + ".missing") != std::string::npos);
    }
    CHECK(agent->size() == 2);
  }

  TEST_CASE("a host's identities replace the client's; an empty list means none") {
    auto good = ed25519("good"), refused = ed25519("refused");
    auto sshd = verbose_sshd();
    authorize(*sshd, {good});
    auto options = keyless(*sshd);
    options.identities = {pssh::PrivateKey::file(refused.string())};
    std::vector<pssh::HostConfig> config(3);
    config[1].identities = {pssh::PrivateKey::memory(rig::read_file(good))};
    config[2].identities = std::vector<pssh::PrivateKey>{};
    auto output = run_true(rig::loopback_hosts(3), options, config);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[0]));
    CHECK(error_message(output[0]).find("tried publickey (" + refused.string() + ", ssh-ed25519);") !=
          std::string::npos);
    CHECK(output[1].exit_code() == 0);
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[2]));
    CHECK(error_message(output[2]).find("tried no method") != std::string::npos);

    // -G shows the keys read from files: pkey, identities, then the defaults.
    options.pkey = pssh::PrivateKey::file(good.string());
    auto lines = pssh::effective_ssh_options("127.0.0.2", options, {});
    std::vector<std::string> files;
    for (const auto& [key, value] : lines)
      if (key == "identityfile") files.push_back(value);
    CHECK(files == std::vector<std::string>{good.string(), refused.string(), "~/.ssh/id_ed25519",
                                            "~/.ssh/id_ecdsa", "~/.ssh/id_rsa"});
  }

  TEST_CASE("a certificate signed by a CA the server trusts logs in, from a file and from memory") {
    rig::TempDir dir;
    auto ca = dir.path() / "ca";
    auto key = dir.path() / "user";
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ca.string()});
    rig::run({"ssh-keygen", "-q", "-t", "ecdsa", "-N", phrase, "-f", key.string()});
    auto sshd = verbose_sshd({"TrustedUserCAKeys " + ca.string() + ".pub"});
    authorize(*sshd, {});  // the bare key is not authorized: only the CA lets it in
    REQUIRE(rig::run({"ssh-keygen", "-q", "-s", ca.string(), "-I", "pssh-test", "-n",
                      *sshd->options().user, key.string() + ".pub"}) == 0);
    auto certificate = key.string() + "-cert.pub";
    std::vector<pssh::HostConfig> config(4);
    config[0].identities = {pssh::PrivateKey::file(key.string(), phrase).with_certificate_file(certificate)};
    config[1].identities = {
        pssh::PrivateKey::memory(rig::read_file(key), phrase).with_certificate(rig::read_file(certificate))};
    config[2].identities = {pssh::PrivateKey::memory(rig::read_file(key), phrase)};
    config[3].pkey = pssh::PrivateKey::file(key.string(), phrase);  // pkey + cert_file still works
    config[3].cert_file = certificate;
    auto output = run_true(rig::loopback_hosts(4), keyless(*sshd), config);
    for (std::size_t i : {0, 1, 3}) {
      INFO(output[i].host() << ": " << error_message(output[i]));
      CHECK(output[i].exit_code() == 0);
    }
    REQUIRE(host_error_is<pssh::AuthenticationError>(output[2]));
    CHECK(error_message(output[2]).find("tried publickey (in-memory key #1, ecdsa-sha2-nistp256);") !=
          std::string::npos);

    // A public key is not a certificate; a pkey's own and cert_file both: which one?
    auto options = keyless(*sshd);
    options.identities = {
        pssh::PrivateKey::file(key.string(), phrase).with_certificate_file(key.string() + ".pub")};
    CHECK(construction_error(options) == "cannot use certificate " + key.string() + ".pub of private key " +
                                             key.string() + " for 127.0.0.2: it is a public key, not a "
                                             "certificate; sign it with ssh-keygen -s");
    options.identities = {pssh::PrivateKey::file(key.string(), phrase).with_certificate("not a certificate")};
    CHECK(construction_error(options) == "cannot load certificate (in memory) of private key " + key.string() +
                                             " for 127.0.0.2: not an OpenSSH public key or certificate");
    options.identities.clear();
    options.pkey = pssh::PrivateKey::file(key.string(), phrase).with_certificate_file(certificate);
    options.cert_file = certificate;
    output = run_true({"127.0.0.2"}, options);
    REQUIRE(host_error_is<pssh::HostArgumentError>(output[0]));
    CHECK(error_message(output[0]) ==
          "pkey for 127.0.0.2 carries a certificate and cert_file is set too; give one of them");
  }

  TEST_CASE("unreadable keys are PKeyFileErrors naming host and key, never the key or passphrase") {
    auto locked = suite_key("ecdsa-p256-locked", {"-t", "ecdsa", "-b", "256"}, phrase);
    std::string pem = rig::read_file(locked);
    const std::string wrong = "Wrong-Phrase-77aa01";
    auto options = keyless(server());
    LibsshLog log;
    std::vector<std::string> messages;
    auto expect = [&](std::vector<pssh::PrivateKey> identities, const std::string& message) {
      options.identities = std::move(identities);
      messages.push_back(construction_error(options));
      CHECK(messages.back() == message);
    };
    expect({pssh::PrivateKey::file(ed25519("good").string()), pssh::PrivateKey::memory(pem, wrong)},
           "cannot load private key in-memory key #2 for 127.0.0.2: the passphrase is wrong");
    expect({pssh::PrivateKey::file(locked.string(), wrong)},
           "cannot load private key " + locked.string() + " for 127.0.0.2: the passphrase is wrong");
    expect({pssh::PrivateKey::memory(pem)},
           "cannot load private key in-memory key #1 for 127.0.0.2: it is encrypted and no passphrase was given");
    expect({pssh::PrivateKey::memory("-----BEGIN OPENSSH PRIVATE KEY-----\nU2VjcmV0LUJvZHk=\n", wrong)},
           "cannot load private key in-memory key #1 for 127.0.0.2: not a private key libssh can read");
    expect({pssh::PrivateKey::file("/no/such/key")},
           "cannot read private key file /no/such/key for 127.0.0.2: No such file or directory; check the path");
    options.identities.clear();
    options.pkey = pssh::PrivateKey::memory(pem, wrong);
    CHECK(construction_error(options) ==
          "cannot load private key in-memory pkey for 127.0.0.2: the passphrase is wrong");

    std::string logged = log.text();
    CHECK(logged.find("Trying to decode privkey") != std::string::npos);  // the log was on
    for (const std::string& text : messages) {
      CHECK(text.find(wrong) == std::string::npos);
      CHECK(text.find(phrase) == std::string::npos);
    }
    for (const std::string& secret :
         {wrong, phrase, std::string("U2VjcmV0LUJvZHk="), pem.substr(pem.size() / 2, 24)})
      CHECK(logged.find(secret) == std::string::npos);
  }

  TEST_CASE("a key shared by many hosts is parsed once per client") {
    auto locked = suite_key("ed25519-locked", {"-t", "ed25519"}, phrase);
    auto sshd = verbose_sshd();
    authorize(*sshd, {locked});
    auto options = keyless(*sshd);
    options.identities = {pssh::PrivateKey::memory(rig::read_file(locked), phrase)};
    std::string logged;
    {
      LibsshLog log;
      pssh::ParallelClient client(rig::loopback_hosts(10), options);
      logged = log.text();
      auto output = client.run_command("true", {.stop_on_errors = false});
      client.join(output);
      for (const auto& h : output) CHECK(h.exit_code() == 0);
    }
    CHECK(count(logged, "Trying to decode privkey") == 1);
  }

  TEST_CASE("identities in JSON: files with passphrase and certificate; keys in memory are not written") {
    pssh::ClientOptions options;
    options.identities = {pssh::PrivateKey::file("/keys/a"),
                          pssh::PrivateKey::memory("-----BEGIN OPENSSH PRIVATE KEY-----secret", "p1"),
                          pssh::PrivateKey::file("/keys/b", "p2").with_certificate_file("/keys/b-cert.pub")};
    auto j = pssh::to_json(options);
    CHECK(j["identities"] == nlohmann::json::parse(R"(["/keys/a",
        {"file": "/keys/b", "passphrase": "p2", "certificate_file": "/keys/b-cert.pub"}])"));
    CHECK(j.dump().find("secret") == std::string::npos);
    auto back = pssh::client_options_from_json(j);
    REQUIRE(back.identities.size() == 2);
    CHECK(back.identities[1] == options.identities[2]);

    auto inventory = pssh::inventory_from_json(nlohmann::json::parse(R"({
      "defaults": {"identities": ["/keys/a"]},
      "hosts": ["web1", {"host": "web2", "identities": []}, {"host": "web3", "identities": [{"pem": "x"}]}]})"));
    CHECK(inventory.defaults.identities == std::vector<pssh::PrivateKey>{pssh::PrivateKey::file("/keys/a")});
    CHECK_FALSE(inventory.host_config[0].identities);
    CHECK(inventory.host_config[1].identities == std::vector<pssh::PrivateKey>{});
    CHECK(inventory.host_config[2].identities->at(0).in_memory());
    CHECK_THROWS_WITH_AS(pssh::client_options_from_json(nlohmann::json::parse(R"({"identities": "/keys/a"})")),
                         "identities: expected a list of private keys", pssh::JsonError);
    CHECK_THROWS_WITH_AS(pssh::client_options_from_json(nlohmann::json::parse(R"({"identities": [{"file": 1}]})")),
                         "identities[0].file: expected a string", pssh::JsonError);
  }
}
