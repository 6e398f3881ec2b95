// Results as JSON: a host's output, a run's, and the name of an error's type.
#include "text/encoding.hpp"

#include <pssh/errors.hpp>
#include <pssh/json.hpp>

namespace pssh {
namespace {

using nlohmann::json;
using detail::valid_utf8;

std::string text_of(LineRange lines) {
  std::string text;
  for (const std::string& line : lines) text += line + '\n';
  return valid_utf8(text);
}

}  // namespace

std::string error_type_name(const std::exception_ptr& error) {
  if (!error) return "";
  try {
    std::rethrow_exception(error);
  } catch (const NoIPv6AddressFoundError&) {
    return "NoIPv6AddressFoundError";
  } catch (const ConnectionError&) {
    return "ConnectionError";
  } catch (const UnknownHostError&) {
    return "UnknownHostError";
  } catch (const SudoError&) {
    return "SudoError";
  } catch (const AuthenticationError&) {
    return "AuthenticationError";
  } catch (const PKeyFileError&) {
    return "PKeyFileError";
  } catch (const HostKeyError&) {
    return "HostKeyError";
  } catch (const ProxyError&) {
    return "ProxyError";
  } catch (const SessionError&) {
    return "SessionError";
  } catch (const JoinTimeout&) {
    return "JoinTimeout";
  } catch (const Timeout&) {
    return "Timeout";
  } catch (const Cancelled&) {
    return "Cancelled";
  } catch (const HostArgumentError&) {
    return "HostArgumentError";
  } catch (const SFTPIOError&) {
    return "SFTPIOError";
  } catch (const SFTPError&) {
    return "SFTPError";
  } catch (const SCPError&) {
    return "SCPError";
  } catch (const ShellError&) {
    return "ShellError";
  } catch (const Error&) {
    return "Error";
  } catch (const std::system_error&) {
    return "system_error";
  } catch (...) {
    return "exception";
  }
}

json to_json(const HostOutput& output) {
  json j{{"host", output.host()},
         {"alias", output.alias()},
         {"index", output.index()},
         {"exit_code", nullptr},
         {"signal", nullptr},
         {"stdout", text_of(output.stdout_lines())},
         {"stderr", text_of(output.stderr_lines())},
         {"error_type", nullptr},
         {"error", nullptr}};
  if (auto code = output.exit_code()) j["exit_code"] = *code;
  if (auto signal = output.exit_signal()) j["signal"] = *signal;
  if (auto error = output.exception()) {
    j["error_type"] = error_type_name(error);
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      j["error"] = valid_utf8(e.what());
    } catch (...) {
      j["error"] = "unknown error";
    }
  }
  return j;
}

json to_json(const Output& output) {
  json all = json::array();
  for (const HostOutput& h : output) all.push_back(to_json(h));
  return all;
}

}  // namespace pssh
