// Logging in: the program's keys (pkey, identities), agent (the program's
// Agent, else the system's), IdentityFile
// keys, GSSAPI, password, keyboard-interactive, in that order. Messages list
// what was tried, never a secret.
#include "base/slots.hpp"
#include "net/socket.hpp"
#include "ssh/agent_keys.hpp"
#include "ssh/keys.hpp"
#include "ssh/session.hpp"

#include <pssh/errors.hpp>

#include <unistd.h>

#include <cstdlib>

namespace pssh::detail {
namespace {

// An ssh-agent serves one client at a time; hundreds of sessions asking at
// once exhaust it (parallel-ssh issue #59). Bound the concurrent askers.
Slots agent_slots(8);

std::string allowed_methods(int methods) {
  std::string out;
  auto add = [&](int bit, const char* name) {
    if ((methods & bit) != 0) out += (out.empty() ? "" : ",") + std::string(name);
  };
  add(SSH_AUTH_METHOD_PUBLICKEY, "publickey");
  add(SSH_AUTH_METHOD_PASSWORD, "password");
  add(SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive");
  add(SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic");
  add(SSH_AUTH_METHOD_HOSTBASED, "hostbased");
  return out.empty() ? "none" : out;
}

class Login {
 public:
  explicit Login(Session& session) : session_(session), ssh_(session.handle()) {}

  void run() {
    const HostSettings& s = session_.settings();
    int rc = session_.login_step(
        [&] { return session_.answered([&] { return ssh_userauth_none(ssh_, nullptr); }); });
    if (rc == SSH_AUTH_SUCCESS) return;
    if (rc == SSH_AUTH_ERROR || session_.was_cut())
      session_.fail<AuthenticationError>("authentication");
    methods_ = ssh_userauth_list(ssh_, nullptr);
    bool publickey = (methods_ & SSH_AUTH_METHOD_PUBLICKEY) != 0;

    if (publickey && offer(s.program_keys)) return;
    // IdentitiesOnly: libssh 0.10 can only offer every key of the system
    // agent (it exports no way to pick some), so that agent is not asked at
    // all; the program's Agent holds keys the program chose, and is.
    if (publickey && s.allow_agent &&
        (s.agent ? offer(AgentKeys::of(*s.agent)) : !s.identities_only && agent_socket_path(s) && agent()))
      return;
    if (publickey && s.identity_auth && identity_files()) return;
    if (s.gssapi_auth && (methods_ & SSH_AUTH_METHOD_GSSAPI_MIC) != 0 &&
        attempt("gssapi-with-mic", [&] { return ssh_userauth_gssapi(ssh_); }))
      return;
    if (s.password && (methods_ & SSH_AUTH_METHOD_PASSWORD) != 0 &&
        attempt("password", [&] { return ssh_userauth_password(ssh_, nullptr, s.password->c_str()); }))
      return;
    if (s.password && (methods_ & SSH_AUTH_METHOD_INTERACTIVE) != 0 &&
        settle("keyboard-interactive", session_.login_step([&] { return keyboard_interactive(*s.password); })))
      return;

    throw AuthenticationError(
        s.host, "cannot authenticate to " + s.destination() + ": tried " +
                    (tried_.empty() ? std::string("no method") : tried_) + "; server allows " +
                    allowed_methods(methods_) +
                    (last_error_.empty() ? "" : "; server said: " + last_error_) +
                    "; check the user, keys, agent or password");
  }

 private:
  void note(const std::string& label) { tried_ += (tried_.empty() ? "" : ", ") + label; }

  /// One login method: `call` is one ssh_userauth_* call.
  template <class Call>
  bool attempt(const std::string& label, Call&& call) {
    return settle(label, session_.login_step([&] { return session_.answered(call); }));
  }

  /// What a method's result means for the login: true when logged in.
  bool settle(const std::string& label, int rc) {
    if (rc == SSH_AUTH_SUCCESS) return true;
    std::string what = "authentication (" + label + ")";
    // A cut step can look like a refusal (a cut agent reads as "no keys").
    if (session_.was_cut()) session_.fail<AuthenticationError>(what);
    sent_ += (sent_.empty() ? "" : ", ") + label;
    if (ssh_is_connected(ssh_) == 0) {
      session_.throw_if_proxy_failed(what);  // the route broke, not the server
      // sshd hangs up at its MaxAuthTries refusals instead of refusing again.
      std::string reason = ssh_get_error(ssh_);
      if (reason.find("Too many authentication failures") != std::string::npos) {
        throw AuthenticationError(session_.settings().host,
                                  "cannot authenticate to " + session_.settings().destination() +
                                      ": the server closed the connection after " + sent_ + " (" + reason +
                                      "); offer fewer keys (IdentitiesOnly, pkey or identities), or raise the "
                                      "server's MaxAuthTries");
      }
      session_.fail<AuthenticationError>(what);
    }
    if (rc == SSH_AUTH_ERROR) session_.fail<AuthenticationError>(what);
    note(label);
    last_error_ = ssh_get_error(ssh_);
    return false;
  }

  bool agent() {
    const HostSettings& s = session_.settings();
    if (!agent_slots.acquire(Clock::now() + s.timeout, session_.stop_token())) {
      session_.throw_if_stopped("authentication (publickey (agent))");
      note("publickey (agent busy)");
      return false;
    }
    // Released however the attempt ends: a timeout, cancel or agent error
    // must not keep the slot from every later login in the process.
    struct SlotReturn {
      ~SlotReturn() { agent_slots.release(); }
    } slot_return;
    if (!session_.use_agent_socket(connect_local_agent(agent_socket_path(s)))) {
      note("publickey (agent unreachable)");
      return false;
    }
    return attempt("publickey (agent)", [&] { return ssh_userauth_agent(ssh_, nullptr); });
  }

  /// The program's keys (pkey and identities, or its Agent's), in order: the
  /// server refusing one moves on to the next. Each is named with its type
  /// (the server may take some types only).
  bool offer(const std::vector<ProgramKey>& keys) {
    for (const ProgramKey& k : keys) {
      std::string type = ssh_key_type_to_char(ssh_key_type(k.key->handle.get()));
      if (attempt("publickey (" + k.label + ", " + type + ")",
                  [&] { return ssh_userauth_publickey(ssh_, nullptr, k.key->handle.get()); }))
        return true;
    }
    return false;
  }

  bool identity_files() {
    for (const std::string& file : session_.settings().identity_files) {
      if (::access(file.c_str(), R_OK) != 0) continue;
      KeyPtr key = load_unencrypted_key(file);
      if (!key) {
        note(file + " (unreadable or encrypted, skipped)");
        continue;
      }
      // As ssh(1): the key with each CertificateFile that belongs to it, then alone.
      for (const std::string& cert : session_.settings().certificate_files) {
        KeyPtr with_cert = certified(file, cert);
        if (with_cert && attempt("publickey (" + file + ", certificate " + cert + ")",
                                 [&] { return ssh_userauth_publickey(ssh_, nullptr, with_cert.get()); }))
          return true;
      }
      if (attempt("publickey (" + file + ")",
                  [&] { return ssh_userauth_publickey(ssh_, nullptr, key.get()); }))
        return true;
    }
    return false;
  }

  /// The key in `key_file` carrying the certificate in `cert_file`; empty if
  /// that is no certificate or one for another key.
  static KeyPtr certified(const std::string& key_file, const std::string& cert_file) {
    ssh_key raw_cert = nullptr;
    if (ssh_pki_import_cert_file(cert_file.c_str(), &raw_cert) != SSH_OK) return {};
    KeyPtr cert(raw_cert);
    KeyPtr key = load_unencrypted_key(key_file);
    if (!key || ssh_pki_copy_cert_to_privkey(cert.get(), key.get()) != SSH_OK) return {};
    return key;
  }

  int keyboard_interactive(const std::string& password) {
    auto next = [&] { return session_.answered([&] { return ssh_userauth_kbdint(ssh_, nullptr, nullptr); }); };
    int rc = next();
    // A server that keeps asking is not answered forever.
    for (int round = 0; rc == SSH_AUTH_INFO && round < 8; ++round) {
      int prompts = ssh_userauth_kbdint_getnprompts(ssh_);
      for (int i = 0; i < prompts; ++i) {
        char echo = 0;
        ssh_userauth_kbdint_getprompt(ssh_, static_cast<unsigned int>(i), &echo);
        // Hidden prompts get the password; visible ones (e.g. a name) nothing.
        ssh_userauth_kbdint_setanswer(ssh_, static_cast<unsigned int>(i),
                                      echo ? "" : password.c_str());
      }
      rc = next();
    }
    return rc == SSH_AUTH_INFO ? SSH_AUTH_DENIED : rc;
  }

  Session& session_;
  ssh_session ssh_;
  int methods_ = 0;
  std::string tried_, last_error_;
  std::string sent_;  // the methods the server was asked, in order (tried_ also names skipped ones)
};

}  // namespace

void authenticate(Session& session) { Login(session).run(); }

}  // namespace pssh::detail
