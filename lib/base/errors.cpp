// pssh::Error, and reading an error's kind from a stored exception.
#include <pssh/errors.hpp>

#include <optional>
#include <system_error>

namespace pssh {

Error::Error(std::string host, const std::string& message)
    : std::runtime_error(message), host_(std::move(host)) {}

ErrorKind error_kind(const std::exception_ptr& error) noexcept {
  if (!error) return ErrorKind::none;
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return e.kind();
  } catch (const std::system_error&) {
    return ErrorKind::system;
  } catch (...) {
    return ErrorKind::other;
  }
}

std::string error_message(const std::exception_ptr& error) {
  if (!error) return "";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "a non-std exception";
  }
}

namespace {

struct KindName {
  ErrorKind kind;
  std::string_view name;
};

// The one list of the kinds' names: JSON writes them, and reads them back.
constexpr KindName kind_names[] = {
    {ErrorKind::none, ""},
    {ErrorKind::error, "Error"},
    {ErrorKind::connection, "ConnectionError"},
    {ErrorKind::no_ipv6_address, "NoIPv6AddressFoundError"},
    {ErrorKind::unknown_host, "UnknownHostError"},
    {ErrorKind::authentication, "AuthenticationError"},
    {ErrorKind::sudo, "SudoError"},
    {ErrorKind::pkey_file, "PKeyFileError"},
    {ErrorKind::host_key, "HostKeyError"},
    {ErrorKind::proxy, "ProxyError"},
    {ErrorKind::session, "SessionError"},
    {ErrorKind::timeout, "Timeout"},
    {ErrorKind::join_timeout, "JoinTimeout"},
    {ErrorKind::cancelled, "Cancelled"},
    {ErrorKind::host_argument, "HostArgumentError"},
    {ErrorKind::config, "ConfigError"},
    {ErrorKind::json, "JsonError"},
    {ErrorKind::sftp, "SFTPError"},
    {ErrorKind::sftp_io, "SFTPIOError"},
    {ErrorKind::scp, "SCPError"},
    {ErrorKind::shell, "ShellError"},
    {ErrorKind::system, "system_error"},
    {ErrorKind::other, "exception"},
};

}  // namespace

std::string_view error_kind_name(ErrorKind kind) noexcept {
  for (const KindName& entry : kind_names)
    if (entry.kind == kind) return entry.name;
  return "exception";
}

std::optional<ErrorKind> error_kind_named(std::string_view name) noexcept {
  for (const KindName& entry : kind_names)
    if (entry.name == name) return entry.kind;
  return std::nullopt;
}

}  // namespace pssh
