// Private keys held by the program (pkey, identities) and the IdentityFile
// keys: parsed without a prompt, named without their secrets.
#pragma once

#include "ssh/handles.hpp"

#include <pssh/options.hpp>

#include <map>
#include <string>
#include <tuple>

namespace pssh::detail {

/// How messages name a key: its path, else `memory_name` ("in-memory key
/// #2"). Never its text.
std::string key_name(const PrivateKey& key, const std::string& memory_name);
/// How messages name a key's certificate: its path, or "(in memory)".
std::string certificate_name(const PrivateKey& key);

/// The key in `path` if it can be read and is not encrypted; empty otherwise.
/// Never prompts: libssh 0.10 (through OpenSSL) would otherwise ask for a
/// PEM key's passphrase on the terminal.
KeyPtr load_unencrypted_key(const std::string& path);

/// Loads the program's private keys once per client: hosts that share a key
/// share the handle.
class KeyCache {
 public:
  /// `key` with its certificate, parsed on first use. PKeyFileError naming
  /// `host` and the key (`name`, from key_name()) if the file cannot be
  /// read, the key parsed or decrypted, or the certificate used; the message
  /// says which, and holds neither key material nor passphrase.
  SharedKey load(const PrivateKey& key, const std::string& name, const std::string& host);

 private:
  // The key's text and passphrase stay in memory, as the caller's copy does.
  using Id = std::tuple<bool, std::string, std::string, std::string, std::string>;
  std::map<Id, SharedKey> keys_;
};

}  // namespace pssh::detail
