// Private keys: PrivateKey's constructors, and parsing keys and certificates
// with libssh without a prompt, with errors that name the key, not its text.
#include "ssh/keys.hpp"

#include "config/settings.hpp"

#include <pssh/errors.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace pssh {

PrivateKey PrivateKey::file(const std::string& path, std::string passphrase) {
  PrivateKey key;
  key.path_ = detail::expand_home(path);
  key.passphrase_ = std::move(passphrase);
  return key;
}

PrivateKey PrivateKey::memory(std::string pem, std::string passphrase) {
  PrivateKey key;
  key.in_memory_ = true;
  key.path_ = "<in-memory key>";
  key.pem_ = std::move(pem);
  key.passphrase_ = std::move(passphrase);
  return key;
}

PrivateKey PrivateKey::with_certificate_file(const std::string& path) const {
  PrivateKey key = *this;
  key.certificate_file_ = detail::expand_home(path);
  key.certificate_.clear();
  return key;
}

PrivateKey PrivateKey::with_certificate(std::string text) const {
  PrivateKey key = *this;
  key.certificate_ = std::move(text);
  key.certificate_file_.clear();
  return key;
}

namespace detail {
namespace {

/// libssh asks this for a passphrase when the key is encrypted and none was
/// given: it is refused, and the request noted, so that errors can say the
/// key is encrypted. Without a callback OpenSSL would prompt on the terminal.
int refuse_passphrase(const char*, char*, std::size_t, int, int, void* asked) {
  *static_cast<bool*>(asked) = true;
  return -1;
}

/// The key parsed with `passphrase` (nullptr: none); empty if libssh cannot.
/// `asked` is set if libssh wanted a passphrase it was not given.
KeyPtr parse(const PrivateKey& key, const char* passphrase, bool& asked) {
  ssh_key raw = nullptr;
  int rc = key.in_memory()
               ? ssh_pki_import_privkey_base64(key.pem().c_str(), passphrase, refuse_passphrase, &asked, &raw)
               : ssh_pki_import_privkey_file(key.path().c_str(), passphrase, refuse_passphrase, &asked, &raw);
  KeyPtr parsed(raw);
  if (rc != SSH_OK) parsed.reset();
  return parsed;
}

/// libssh 0.10 parses certificate text in two parts: "type base64 [comment]".
int parse_certificate_text(const std::string& text, ssh_key* out) {
  std::istringstream fields(text);
  std::string type, base64;
  if (!(fields >> type >> base64)) return SSH_ERROR;
  return ssh_pki_import_cert_base64(base64.c_str(), ssh_key_type_from_name(type.c_str()), out);
}

void attach_certificate(ssh_key loaded, const PrivateKey& key, const std::string& name,
                        const std::string& host) {
  bool in_memory = key.certificate_file().empty();
  std::string what = "certificate " + certificate_name(key) + " of private key " + name + " for " + host;
  if (!in_memory && ::access(key.certificate_file().c_str(), R_OK) != 0)
    throw PKeyFileError(host, "cannot read " + what + ": " + std::strerror(errno));
  ssh_key raw = nullptr;
  int rc = in_memory ? parse_certificate_text(key.certificate(), &raw)
                     : ssh_pki_import_cert_file(key.certificate_file().c_str(), &raw);
  KeyPtr certificate(raw);
  if (rc != SSH_OK || !certificate)
    throw PKeyFileError(host, "cannot load " + what + ": not an OpenSSH public key or certificate");
  // Refused for a plain public key. (libssh 0.10.6 does not check that the
  // certificate is for this key: the server refuses one that is not.)
  if (ssh_pki_copy_cert_to_privkey(certificate.get(), loaded) != SSH_OK)
    throw PKeyFileError(host, "cannot use " + what +
                                  ": it is a public key, not a certificate; sign it with ssh-keygen -s");
}

}  // namespace

KeyPtr load_unencrypted_key(const std::string& path) {
  bool asked = false;
  return parse(PrivateKey::file(path), nullptr, asked);
}

std::shared_ptr<const LoadedKey> KeyCache::load(const PrivateKey& key, const std::string& name, const std::string& host) {
  Id id{key.in_memory(), key.in_memory() ? key.pem() : key.path(), key.passphrase(),
        key.certificate_file(), key.certificate()};
  if (auto found = keys_.find(id); found != keys_.end()) return found->second;

  if (!key.in_memory() && ::access(key.path().c_str(), R_OK) != 0) {
    throw PKeyFileError(host, "cannot read private key file " + key.path() + " for " + host + ": " +
                                  std::strerror(errno) + "; check the path");
  }
  const char* passphrase = key.passphrase().empty() ? nullptr : key.passphrase().c_str();
  bool asked = false;
  KeyPtr loaded = parse(key, passphrase, asked);
  // libssh says only that it failed: parsed again without the passphrase,
  // a request for one tells a wrong passphrase from a text that is no key
  // (an unencrypted key would have parsed above: libssh ignores the phrase).
  if (!loaded && passphrase != nullptr) parse(key, nullptr, asked);
  if (!loaded) {
    throw PKeyFileError(host, "cannot load private key " + name + " for " + host + ": " +
                                  (!asked        ? "not a private key libssh can read"
                                   : passphrase  ? "the passphrase is wrong"
                                                 : "it is encrypted and no passphrase was given"));
  }
  if (key.has_certificate()) attach_certificate(loaded.get(), key, name, host);
  auto shared = std::make_shared<const LoadedKey>(std::move(loaded));
  keys_.emplace(std::move(id), shared);
  return shared;
}

}  // namespace detail
}  // namespace pssh
