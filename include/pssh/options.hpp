/// \file
/// Credentials and configuration: defaults for every host (ClientOptions) and
/// per-host overrides (HostConfig), in parallel-ssh's vocabulary.
#pragma once

#include <pssh/errors.hpp>
#include <pssh/event.hpp>
#include <pssh/export.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pssh {

class Agent;

/// Every time limit in pssh: `std::chrono::seconds` and literals (`30s`)
/// convert to it.
using duration = std::chrono::milliseconds;

/// A private key from a file or from memory, optionally with an OpenSSH
/// certificate. Key material given with `memory()` is parsed in memory and
/// never written to disk; messages name a key by its path (or its place in
/// `identities`), never by its text or passphrase.
///
///     options.identities = {pssh::PrivateKey::memory(key_text, passphrase),
///                           pssh::PrivateKey::file("~/.ssh/ci").with_certificate_file("~/.ssh/ci-cert.pub")};
class PSSH_API PrivateKey {
 public:
  /// "~" at the start of `path` is expanded to the home directory.
  static PrivateKey file(const std::string& path, std::string passphrase = {});
  /// The text of a key file: OpenSSH ("BEGIN OPENSSH PRIVATE KEY"), PEM or PKCS#8.
  static PrivateKey memory(std::string pem, std::string passphrase = {});

  /// This key presented with an OpenSSH certificate (`ssh-keygen -s`) from a
  /// "*-cert.pub" file ("~" expanded); the login then offers the certificate
  /// only, not the bare key.
  PrivateKey with_certificate_file(const std::string& path) const;
  /// The same, from the certificate file's text held in memory
  /// ("ssh-ed25519-cert-v01@openssh.com AAAA... comment").
  PrivateKey with_certificate(std::string text) const;

  /// Made by memory().
  bool in_memory() const noexcept { return in_memory_; }
  /// The expanded path, or "<in-memory key>".
  const std::string& path() const noexcept { return path_; }
  /// The key text given to memory(); empty for a key file.
  const std::string& pem() const noexcept { return pem_; }
  /// As given; empty for none.
  const std::string& passphrase() const noexcept { return passphrase_; }
  /// The certificate's expanded path; empty without one, or for one in memory.
  const std::string& certificate_file() const noexcept { return certificate_file_; }
  /// The certificate's text given to with_certificate(); empty otherwise.
  const std::string& certificate() const noexcept { return certificate_; }
  /// A certificate was given, as a file or as text.
  bool has_certificate() const noexcept { return !certificate_file_.empty() || !certificate_.empty(); }
  /// Field by field: path, key text, passphrase and certificate.
  bool operator==(const PrivateKey&) const = default;

 private:
  PrivateKey() = default;
  bool in_memory_ = false;
  std::string path_, pem_, passphrase_, certificate_file_, certificate_;
};

/// What to do with the server's host key (StrictHostKeyChecking).
enum class HostKeyPolicy {
  strict,      ///< refuse unknown and changed keys
  accept_new,  ///< record unknown keys in known_hosts, refuse changed ones
  ignore,      ///< accept any key (for throwaway hosts only)
};

/// A bastion / jump host the targets are reached through.
/// A user, password or key unset here comes from the client's options, then
/// from the ssh config's entry for the bastion, as for any host; the port
/// from that entry alone (the targets' port is theirs), as a ProxyJump line
/// in an ssh config gives it.
struct ProxyConfig {
  std::string host{};  ///< the bastion's name or address
  /// Unset: the ssh config's Port for the bastion, else 22.
  std::optional<int> port{};
  ///@{
  std::optional<std::string> user{}, password{};  ///< the login on the bastion
  ///@}
  std::optional<PrivateKey> pkey{};  ///< tried first on the bastion, as ClientOptions::pkey
  /// Field by field.
  bool operator==(const ProxyConfig&) const = default;
};

/// Defaults for every host of a client.
///
/// The per-host options are HostConfig's fields, with the same names and
/// types, each optional (`identities` is a list: empty adds none): a field
/// that is set beats the ssh config, whatever its value (`options.port = 22`
/// beats the config's `Port 2222`); one left unset takes the config's
/// value, else the built-in default named below. Per host, a set HostConfig
/// field beats both. The client's alone are `agent`, `pool_size`, the ssh
/// config files, `max_buffered_output` and the events. Precedence: HostConfig > ClientOptions > ssh config (the user's
/// file, then the system's; the first value obtained wins, as in
/// ssh_config(5)) > built-in default. The last member, `proxy_command`, is
/// ProxyCommand (%%h, %%n, %%p, %%r and %% expanded); it and `proxy` beat the
/// config's ProxyJump and ProxyCommand.
struct ClientOptions {
  /// Login name. Unset: the config's User, else the current user.
  std::optional<std::string> user{};
  /// For the password and keyboard-interactive logins; never in a message.
  std::optional<std::string> password{};
  std::optional<int> port{};  ///< unset: the config's Port, else 22
  /// Unset: the config's IdentityFile keys are tried (when identity_auth).
  std::optional<PrivateKey> pkey{};
  std::optional<std::string> cert_file{};  ///< OpenSSH certificate for pkey
  /// Keys held by the program, tried in this order after `pkey` and before
  /// the agent and the IdentityFile (~/.ssh) keys; a key the server refuses
  /// moves on to the next. Each is parsed once per client, when the client
  /// is made: one that cannot be read or decrypted is a PKeyFileError then.
  std::vector<PrivateKey> identities{};
  std::optional<bool> allow_agent{};  ///< ask the SSH agent (identity_agent) for keys; default true
  /// The program's own agent (pssh/agent.hpp): asked at the agent's turn
  /// instead of the system agent, which is then never asked.
  std::shared_ptr<const Agent> agent{};
  std::optional<bool> identity_auth{};  ///< try ~/.ssh/id_* or the config's IdentityFile; default true
  std::optional<bool> forward_agent{};  ///< ForwardAgent; default false
  std::optional<bool> gssapi_auth{};    ///< GSSAPIAuthentication; default false
  std::optional<std::string> gssapi_server_identity{};  ///< default: the host name
  std::optional<std::string> gssapi_client_identity{};  ///< default: the cached principal
  std::optional<bool> gssapi_delegate_credentials{};  ///< GSSAPIDelegateCredentials; default false
  /// Connection attempts in all (ConnectionAttempts), as parallel-ssh counts
  /// them: 3 (the default) tries up to three times; 0 and 1 try once.
  /// A ConnectionError, a failed handshake (SessionError) or a Timeout
  /// before the login is tried again.
  std::optional<int> num_retries{};
  std::optional<duration> retry_delay{};  ///< between connection attempts; default 5 s
  /// The step timeout: how long each blocking session step (connect, a
  /// login method, a channel request, a file block) may take; default 60 s.
  /// A whole command is bounded by RunOptions::command_timeout, an idle
  /// stream by RunOptions::read_timeout, a wait by JoinOptions::join_timeout.
  std::optional<duration> timeout{};
  /// Limit for the TCP connect and the SSH handshake (ConnectTimeout);
  /// unset: `timeout`.
  std::optional<duration> connect_timeout{};
  std::size_t pool_size = 100;                  ///< hosts worked on at once
  /// A bastion for every host; beats the config's ProxyJump and ProxyCommand.
  std::optional<ProxyConfig> proxy{};
  std::optional<bool> ipv6_only{};  ///< AddressFamily inet6; default false
  std::optional<bool> compress{};   ///< Compression; default false
  /// Liveness of idle connections (ServerAliveInterval): a keepalive request
  /// after this long without traffic, and the host is lost (Timeout) when 3
  /// (ServerAliveCountMax) in a row go unanswered; TCP keepalive and
  /// TCP_USER_TIMEOUT (4 intervals) on every socket. A vanished host thus
  /// ends within about 4 intervals. 0: off. Default 30 s (2 minutes).
  std::optional<duration> keepalive{};
  /// StrictHostKeyChecking; default accept_new.
  std::optional<HostKeyPolicy> host_key_policy{};
  /// UserKnownHostsFile, with its tokens (%%h, %%p, %%r, ...) and ${NAME}
  /// expanded as in an ssh config; default "~/.ssh/known_hosts".
  std::optional<std::string> known_hosts{};
  /// GlobalKnownHostsFile: the system-wide host keys, read (never written)
  /// after known_hosts, as ssh(1) reads them; "none" for none; "~" is
  /// expanded. Default "/etc/ssh/ssh_known_hosts".
  std::optional<std::string> global_known_hosts{};
  /// IdentitiesOnly: log in only with pkey, identities and the IdentityFile
  /// keys read from their files; the agent is not asked. Default false.
  std::optional<bool> identities_only{};
  /// IdentityAgent: the agent's socket path; "none" for no agent,
  /// "SSH_AUTH_SOCK" or "$NAME" for an environment variable's value.
  /// Unset: $SSH_AUTH_SOCK.
  std::optional<std::string> identity_agent{};
  /// HostKeyAlias: the name looked up and recorded in known_hosts instead
  /// of the host name (without a port).
  std::optional<std::string> host_key_alias{};
  /// The user's OpenSSH client config; nullopt: read none. Read first.
  std::optional<std::string> ssh_config = "~/.ssh/config";
  /// The system's OpenSSH client config, read after the user's, as ssh(1)
  /// does (its relative Includes are taken from /etc/ssh); nullopt: none.
  std::optional<std::string> system_ssh_config = "/etc/ssh/ssh_config";
  /// Bytes of unread output kept per host and stream before the host's worker
  /// stops reading from the server (back-pressure: the command then waits).
  /// A line longer than this arrives in pieces of this size. A wait for the
  /// end (join(), wait_finished()) lifts it for the hosts it waits on: their
  /// output is kept whole for reading afterwards, as parallel-ssh does.
  /// 0: unlimited. Default 8 MiB (parallel-ssh: unlimited).
  std::size_t max_buffered_output = 8 * 1024 * 1024;
  /// Progress events. Called from worker threads, concurrently for different
  /// hosts, in order for one host: keep it short and thread-safe. A host's
  /// events have all been delivered when join() returns. An exception thrown
  /// by the handler is caught and dropped (logged by the host logger, if on):
  /// the host's work and result go on unchanged, later events still come.
  std::function<void(const Event&)> on_event{};
  /// on_event also gets Event::Kind::line, a copy of each line of output as
  /// it arrives (an unfinished line is held up to max_buffered_output per
  /// stream, unbounded when that is 0). Turn it off when the handler only
  /// follows hosts' progress: their output then costs nothing here.
  bool line_events = true;
  /// An OpenSSH ProxyCommand: run through `/bin/sh -c` for each connection
  /// (prefixed with `exec`, as ssh(1) does); its stdin and stdout are the
  /// connection to the host. %%h (the HostName),
  /// %%p (port), %%r (remote user), %%n (the host as given) and %% are
  /// expanded; "none": no command. Not together with `proxy`.
  std::optional<std::string> proxy_command{};

  /// Defaults read from PSSH_USER, PSSH_PAR (pool_size) and PSSH_OPTIONS
  /// (OpenSSH options, space-separated "Key=Value"); ConfigError naming the
  /// variable for a bad value. pssh/env.hpp's read_environment() also gives
  /// PSSH_TIMEOUT (a command timeout, as pssh's -t), PSSH_HOSTS, PSSH_OUTDIR
  /// and PSSH_VERBOSE.
  PSSH_API static ClientOptions from_env();
};

/// Per-host overrides: every field that is set replaces the client's, so a
/// host can also turn a flag off. The fields are ClientOptions' per-host
/// options (same names, types and meaning) and an alias.
struct HostConfig {
  std::optional<std::string> alias{};  ///< how output and events name the host
  std::optional<std::string> user{};  ///< see ClientOptions::user
  std::optional<std::string> password{};  ///< see ClientOptions::password
  std::optional<int> port{};  ///< see ClientOptions::port
  std::optional<PrivateKey> pkey{};  ///< see ClientOptions::pkey
  std::optional<std::string> cert_file{};  ///< see ClientOptions::cert_file
  /// Replaces the client's `identities` for this host (an empty list: none).
  std::optional<std::vector<PrivateKey>> identities{};
  ///@{
  std::optional<bool> allow_agent{}, identity_auth{}, forward_agent{}, gssapi_auth{};
  ///< see the ClientOptions fields of these names
  ///@}
  ///@{
  std::optional<std::string> gssapi_server_identity{}, gssapi_client_identity{};
  ///< see the ClientOptions fields of these names
  ///@}
  /// See ClientOptions::gssapi_delegate_credentials.
  std::optional<bool> gssapi_delegate_credentials{};
  std::optional<int> num_retries{};  ///< see ClientOptions::num_retries
  ///@{
  std::optional<duration> retry_delay{}, timeout{}, connect_timeout{};
  ///< see the ClientOptions fields of these names
  ///@}
  std::optional<ProxyConfig> proxy{};  ///< see ClientOptions::proxy
  ///@{
  std::optional<bool> ipv6_only{}, compress{};  ///< see the ClientOptions fields of these names
  ///@}
  std::optional<duration> keepalive{};  ///< see ClientOptions::keepalive
  std::optional<HostKeyPolicy> host_key_policy{};  ///< see ClientOptions::host_key_policy
  std::optional<std::string> known_hosts{};  ///< see ClientOptions::known_hosts
  std::optional<std::string> global_known_hosts{};  ///< see ClientOptions::global_known_hosts
  std::optional<bool> identities_only{};  ///< see ClientOptions::identities_only
  ///@{
  std::optional<std::string> identity_agent{}, host_key_alias{};
  ///< see the ClientOptions fields of these names
  ///@}
  std::optional<std::string> proxy_command{};  ///< see ClientOptions::proxy_command
  /// Field by field: set_hosts() keeps a host's connection while it is equal.
  bool operator==(const HostConfig&) const = default;
};

}  // namespace pssh
