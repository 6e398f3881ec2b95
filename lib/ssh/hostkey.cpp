// Host key checking against known_hosts, per HostKeyPolicy.
#include "ssh/session.hpp"

#include <pssh/errors.hpp>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace pssh::detail {
namespace {

// Sessions of all clients append to known_hosts files; one writer at a time.
std::mutex known_hosts_mutex;

std::string fingerprint(ssh_session s) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(s, &raw) != SSH_OK) return "an unreadable key";
  KeyPtr key(raw);
  unsigned char* hash = nullptr;
  std::size_t length = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &length) != SSH_OK)
    return ssh_key_type_to_char(ssh_key_type(key.get()));
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length);
  std::string result = std::string(ssh_key_type_to_char(ssh_key_type(key.get()))) + " " +
                       (text != nullptr ? text : "");
  ssh_string_free_char(text);
  ssh_clean_pubkey_hash(&hash);
  return result;
}

/// How known_hosts names the host: "name" on port 22, "[name]:port" elsewhere;
/// HostKeyAlias alone when set, as in ssh(1).
std::string known_hosts_token(const HostSettings& s) {
  if (s.host_key_alias) return *s.host_key_alias;
  return s.port == 22 ? s.hostname : "[" + s.hostname + "]:" + std::to_string(s.port);
}

/// Line numbers of plain (unhashed) entries for `token`.
std::string lines_naming(const std::string& file, const std::string& token) {
  std::ifstream in(file);
  std::string line, numbers;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream fields(line);
    std::string names;
    fields >> names;
    std::istringstream list(names);
    for (std::string name; std::getline(list, name, ',');) {
      if (name == token) {
        numbers += (numbers.empty() ? "" : ", ") + std::to_string(n);
        break;
      }
    }
  }
  return numbers;
}

}  // namespace

void verify_host_key(Session& session) {
  const HostSettings& s = session.settings();
  if (s.host_key_policy == HostKeyPolicy::ignore) return;
  ssh_session ssh = session.handle();
  std::string token = known_hosts_token(s);
  std::lock_guard lock(known_hosts_mutex);
  switch (ssh_session_is_known_server(ssh)) {
    case SSH_KNOWN_HOSTS_OK:
      return;
    case SSH_KNOWN_HOSTS_CHANGED:
    case SSH_KNOWN_HOSTS_OTHER: {
      // The user's file, unless only the system-wide one names the host.
      std::string file = s.known_hosts;
      std::string lines = lines_naming(file, token);
      if (lines.empty() && !lines_naming(s.global_known_hosts, token).empty()) {
        file = s.global_known_hosts;
        lines = lines_naming(file, token);
      }
      throw HostKeyError(
          s.host, "host key for " + s.host + " (" + token + ") has changed: the server offers " +
                      fingerprint(ssh) + ", but " + file +
                      (lines.empty() ? " holds another key for it"
                                     : " line " + lines + " holds another key") +
                      ". If the change is expected, run: ssh-keygen -f '" + file + "' -R '" + token +
                      "'");
    }
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      break;
    case SSH_KNOWN_HOSTS_ERROR:
      throw HostKeyError(s.host, "cannot check the host key of " + s.host + " against " +
                                     s.known_hosts + ": " + ssh_get_error(ssh));
  }
  if (s.host_key_policy == HostKeyPolicy::strict) {
    std::string system_wide =
        s.global_known_hosts == "/dev/null" ? "" : " (nor in " + s.global_known_hosts + ")";
    throw HostKeyError(s.host, "host key for " + s.host + " (" + token + ", " + fingerprint(ssh) +
                                   ") is not in " + s.known_hosts + system_wide +
                                   " and host_key_policy is strict; add it (ssh-keyscan -p " +
                                   std::to_string(s.port) + " " + s.hostname + " >> " +
                                   s.known_hosts + ") or use accept_new");
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(s.known_hosts).parent_path(), ignored);
  if (ssh_session_update_known_hosts(ssh) != SSH_OK) {
    throw HostKeyError(s.host, "cannot record the host key of " + s.host + " in " +
                                   s.known_hosts + ": " + ssh_get_error(ssh));
  }
}

}  // namespace pssh::detail
