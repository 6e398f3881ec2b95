/// \file
/// The pssh error hierarchy. Every error names the host it concerns (empty for
/// errors about the whole run) and says what failed and what to try.
///
/// The rule between the two connection-level types: everything until the SSH
/// transport stands (TCP connect, the server's banner, key exchange) is a
/// ConnectionError, and is retried by num_retries; a failure of the SSH
/// protocol on an established, logged-in connection (a channel, exec, a
/// subsystem) is a SessionError. Host keys and logins have their own types.
#pragma once

#include <pssh/export.hpp>

#include <stdexcept>
#include <string>

namespace pssh {

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

 private:
  std::string host_;
};

/// TCP connection refused, unreachable or dropped, or the SSH handshake
/// failed; the message says what the peer did ("closed the connection
/// before sending its banner", "is not an SSH server: it sent '...'",
/// "closed the connection during key exchange").
class PSSH_API ConnectionError : public Error { using Error::Error; };
/// The host name does not resolve.
class PSSH_API UnknownHostError : public Error { using Error::Error; };
/// `ipv6_only` was asked for and the name has no IPv6 address.
class PSSH_API NoIPv6AddressFoundError : public ConnectionError { using ConnectionError::ConnectionError; };
/// The server accepted none of the login methods tried; the message lists
/// them and what the server allows (never a secret).
class PSSH_API AuthenticationError : public Error { using Error::Error; };
/// sudo refused RunOptions::sudo_password, or asked for a password when
/// none was given; the command was ended.
class PSSH_API SudoError : public AuthenticationError { using AuthenticationError::AuthenticationError; };
/// A private key file is missing, unreadable or cannot be decrypted.
class PSSH_API PKeyFileError : public Error { using Error::Error; };
/// The server's host key is unknown (strict policy) or differs from known_hosts.
class PSSH_API HostKeyError : public Error { using Error::Error; };
/// The proxy (ClientOptions::proxy, ProxyJump or ProxyCommand) could not be
/// reached or logged into, or would not open a connection to the host;
/// reported by every host behind it.
class PSSH_API ProxyError : public Error { using Error::Error; };
/// The SSH protocol failed after the connection was made (channel, exec, ...).
class PSSH_API SessionError : public Error { using Error::Error; };
/// A deadline passed: connect, a session step, read_timeout or a command timeout.
class PSSH_API Timeout : public Error { using Error::Error; };
/// `cancel()` stopped the host's work.
class PSSH_API Cancelled : public Error { using Error::Error; };
/// Per-host arguments or configuration do not fit the host list or a template.
class PSSH_API HostArgumentError : public Error { using Error::Error; };
/// SFTP could not be started on the host (no sftp subsystem, ...).
class PSSH_API SFTPError : public Error { using Error::Error; };
/// A remote file operation failed (missing file, permission denied, a
/// directory without `recurse`); the message has the path and the reason.
class PSSH_API SFTPIOError : public SFTPError { using SFTPError::SFTPError; };
/// The remote `scp` failed, refused a file, or sent something pssh will not
/// write (a name leaving the target directory).
class PSSH_API SCPError : public Error { using Error::Error; };
/// A Shell was used after join() or after being moved from.
class PSSH_API ShellError : public Error { using Error::Error; };

}  // namespace pssh
