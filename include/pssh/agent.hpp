/// \file
/// Agent: the program's own SSH agent, asked in place of the system's.
#pragma once

#include <pssh/export.hpp>
#include <pssh/options.hpp>

#include <cstddef>
#include <memory>

namespace pssh {

/// parallel-ssh's programmatic SSHAgent: keys the program adds, offered at
/// the agent's turn of every login of a client given it
/// (ClientOptions::agent). The system agent (SSH_AUTH_SOCK, IdentityAgent)
/// is then never asked. allow_agent = false skips it, as any agent;
/// IdentitiesOnly does not (its keys are the program's choice). Safe from
/// any thread: a key added while clients log in is offered from their next
/// login on. Not written to JSON. Agent forwarding (forward_agent) still
/// forwards the system agent: leave it off to keep that agent away from
/// the hosts.
///
///     auto agent = std::make_shared<pssh::Agent>();
///     agent->add_key(pssh::PrivateKey::file("~/.ssh/deploy"));
///     agent->add_key(pssh::PrivateKey::memory(vault_key_text));
///     pssh::ParallelClient client(hosts, {.agent = agent});
class PSSH_API Agent {
 public:
  Agent();
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  /// Parses `key` now, with its certificate, and offers it after the keys
  /// added before. PKeyFileError if it cannot be read, parsed or decrypted
  /// (the message names the key, never its text or passphrase).
  void add_key(const PrivateKey& key);
  /// How many keys were added.
  std::size_t size() const;

 private:
  friend class AgentKeys;  // the library's reader of the parsed keys
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pssh
