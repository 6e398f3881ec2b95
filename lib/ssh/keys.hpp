// Private keys held by the program (pkey, identities) and the IdentityFile
// keys: parsed without a prompt, named without their secrets.
#pragma once

#include "config/settings.hpp"
#include "ssh/handles.hpp"

#include <pssh/options.hpp>

#include <map>
#include <string>
#include <tuple>

namespace pssh::detail {

/// The key in `path` if it can be read and is not encrypted; empty otherwise.
/// Never prompts: libssh 0.10 (through OpenSSL) would otherwise ask for a
/// PEM key's passphrase on the terminal.
KeyPtr load_unencrypted_key(const std::string& path);

/// A parsed private key (with its certificate, if any).
struct LoadedKey {
  explicit LoadedKey(KeyPtr key) : handle(std::move(key)) {}
  const KeyPtr handle;
};

/// Loads the program's private keys once per client: hosts that share a key
/// share the handle.
class KeyCache final : public KeyLoader {
 public:
  /// `key` with its certificate, parsed on first use. PKeyFileError naming
  /// `host` and the key (`name`, from key_name()) if the file cannot be
  /// read, the key parsed or decrypted, or the certificate used; the message
  /// says which, and holds neither key material nor passphrase.
  std::shared_ptr<const LoadedKey> load(const PrivateKey& key, const std::string& name,
                                        const std::string& host) override;

 private:
  // The key's text and passphrase stay in memory, as the caller's copy does.
  using Id = std::tuple<bool, std::string, std::string, std::string, std::string>;
  std::map<Id, std::shared_ptr<const LoadedKey>> keys_;
};

}  // namespace pssh::detail
