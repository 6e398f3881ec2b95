/// \file
/// The pssh error hierarchy. Every error names the host it concerns (empty for
/// errors about the whole run) and says what failed and what to try.
///
/// The rule between the two connection-level types, as parallel-ssh's docs
/// draw it: a TCP connection refused, unreachable or dropped is a
/// ConnectionError; a failure to establish the SSH session on it (the
/// server's banner, key exchange) or of the SSH protocol later (a channel,
/// exec, a subsystem) is a SessionError. Before the login both are retried
/// by num_retries. Host keys and logins have their own types.
#pragma once

#include <pssh/export.hpp>

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pssh {

/// What kind of error a result holds, for code that branches on it (and
/// JSON's "error_type"): one per class below, plus the errors pssh does not
/// make. error_kind() reads it from a stored error.
enum class ErrorKind {
  none,             ///< no error
  error,            ///< pssh::Error itself
  connection,       ///< ConnectionError
  no_ipv6_address,  ///< NoIPv6AddressFoundError
  unknown_host,     ///< UnknownHostError
  authentication,   ///< AuthenticationError
  sudo,             ///< SudoError
  pkey_file,        ///< PKeyFileError
  host_key,         ///< HostKeyError
  proxy,            ///< ProxyError
  session,          ///< SessionError
  timeout,          ///< Timeout
  join_timeout,     ///< JoinTimeout
  cancelled,        ///< Cancelled
  host_argument,    ///< HostArgumentError
  config,           ///< ConfigError
  json,             ///< JsonError
  sftp,             ///< SFTPError
  sftp_io,          ///< SFTPIOError
  scp,              ///< SCPError
  shell,            ///< ShellError
  system,           ///< std::system_error (from the operating system)
  other,            ///< any other exception
};

/// The root of pssh's errors: a host's failure is one of its kinds, stored
/// in that host's result (HostOutput::exception(), Transfer::exception(),
/// CallResult::error) and thrown only where the caller asked for it.
class PSSH_API Error : public std::runtime_error {
 public:
  /// `message` is what() in full (it names the host itself); `host` is
  /// what host() returns. Every kind below has this constructor.
  Error(std::string host, const std::string& message);
  /// The host (as the caller spelled it) the error concerns; empty if none.
  const std::string& host() const noexcept { return host_; }
  /// Which class of the hierarchy this is.
  virtual ErrorKind kind() const noexcept { return ErrorKind::error; }

 private:
  std::string host_;
};

/// The kind of the error `error` holds; ErrorKind::none for a null pointer.
PSSH_API ErrorKind error_kind(const std::exception_ptr& error) noexcept;
/// What the error `error` holds says (its what()); "" for a null pointer,
/// "a non-std exception" for anything else thrown.
PSSH_API std::string error_message(const std::exception_ptr& error);
/// The class name a kind stands for, as JSON's "error_type" writes it:
/// "ConnectionError", "Timeout", ...; "system_error", "exception"; "" for none.
PSSH_API std::string_view error_kind_name(ErrorKind kind) noexcept;
/// The kind error_kind_name() calls `name` (reading results back from
/// JSON); nothing for a name it never gives.
PSSH_API std::optional<ErrorKind> error_kind_named(std::string_view name) noexcept;

/// TCP connection refused, unreachable or dropped.
class PSSH_API ConnectionError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::connection; }
};
/// The host name does not resolve.
class PSSH_API UnknownHostError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::unknown_host; }
};
/// `ipv6_only` was asked for and the name has no IPv6 address.
class PSSH_API NoIPv6AddressFoundError : public ConnectionError {
 public:
  using ConnectionError::ConnectionError;
  ErrorKind kind() const noexcept override { return ErrorKind::no_ipv6_address; }
};
/// The server accepted none of the login methods tried; the message lists
/// them and what the server allows (never a secret).
class PSSH_API AuthenticationError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::authentication; }
};
/// sudo refused RunOptions::sudo_password, or asked for a password when
/// none was given; the command was ended.
class PSSH_API SudoError : public AuthenticationError {
 public:
  using AuthenticationError::AuthenticationError;
  ErrorKind kind() const noexcept override { return ErrorKind::sudo; }
};
/// A private key file is missing, unreadable or cannot be decrypted.
class PSSH_API PKeyFileError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::pkey_file; }
};
/// The server's host key is unknown (strict policy) or differs from known_hosts.
class PSSH_API HostKeyError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::host_key; }
};
/// The proxy (ClientOptions::proxy, ProxyJump or ProxyCommand) could not be
/// reached or logged into, or would not open a connection to the host;
/// reported by every host behind it.
class PSSH_API ProxyError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::proxy; }
};
/// The SSH session could not be established on the connection, or its
/// protocol failed later (channel, exec, ...). A failed handshake says what
/// the peer did ("closed the connection before sending its banner", "is
/// not an SSH server: it sent '...'", "closed the connection during key
/// exchange").
class PSSH_API SessionError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::session; }
};
/// A host's deadline passed: connect, a session step, read_timeout or a
/// command timeout. (A join that gives up waiting is JoinTimeout, not this.)
class PSSH_API Timeout : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::timeout; }
};
/// `cancel()` stopped the host's work.
class PSSH_API Cancelled : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::cancelled; }
};
/// Per-host arguments or configuration do not fit the host list or a template.
class PSSH_API HostArgumentError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::host_argument; }
};
/// Options, a host list, the environment's PSSH_* variables or a call's
/// arguments do not fit; thrown before any host starts, naming the value
/// and what is expected (the host is empty unless one host's setting is meant).
class PSSH_API ConfigError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::config; }
};
/// SFTP could not be started on the host (no sftp subsystem, ...).
class PSSH_API SFTPError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::sftp; }
};
/// A remote file operation failed (missing file, permission denied, a
/// directory without `recurse`); the message has the path and the reason.
class PSSH_API SFTPIOError : public SFTPError {
 public:
  using SFTPError::SFTPError;
  ErrorKind kind() const noexcept override { return ErrorKind::sftp_io; }
};
/// The remote `scp` failed, refused a file, or sent something pssh will not
/// write (a name leaving the target directory).
class PSSH_API SCPError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::scp; }
};
/// A Shell was used after join() or after being moved from.
class PSSH_API ShellError : public Error {
 public:
  using Error::Error;
  ErrorKind kind() const noexcept override { return ErrorKind::shell; }
};

}  // namespace pssh
