// The one reading of "[user@]host[:port]" and of a port number.
#include "config/endpoint.hpp"

#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <algorithm>
#include <charconv>

namespace pssh::detail {
namespace {

/// What most errors say to write instead.
constexpr std::string_view form = "[user@]host[:port]";

/// Every endpoint error has one shape: the text, what is wrong, what to write.
[[noreturn]] void bad(std::string_view text, const std::string& problem, std::string_view write) {
  throw HostArgumentError("", "'" + printable(text) + "': " + problem + "; write " + std::string(write));
}

std::optional<int> port_number(std::string_view text) {
  // Digits only: from_chars alone would take "-1", and ssh(1) "+22".
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || port < 1 || port > 65535) return std::nullopt;
  return port;
}

std::string not_a_port(std::string_view text) {
  return "'" + printable(text) + "' is not a port number (1-65535)";
}

}  // namespace

int parse_port(std::string_view text) {
  auto port = port_number(text);
  if (!port) throw HostArgumentError("", not_a_port(text));
  return *port;
}

Endpoint parse_endpoint(std::string_view text) {
  constexpr auto npos = std::string_view::npos;
  // A space is never part of a host, a user or a port: "a, b" is a typo,
  // and a hosts file's second word is split off before this.
  if (std::any_of(text.begin(), text.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
    bad(text, "white space or a control character in it", form);
  std::string_view rest = text;
  bool uri = rest.starts_with("ssh://");
  if (uri) {
    rest.remove_prefix(6);
    // As ssh(1): an ssh:// URI may end in '/', but has no path.
    if (auto slash = rest.find('/'); slash != npos) {
      if (slash + 1 != rest.size()) bad(text, "an ssh:// URI has no path", "ssh://[user@]host[:port]");
      rest.remove_suffix(1);
    }
  }
  Endpoint endpoint;
  if (auto at = rest.rfind('@'); at != npos) {
    if (at == 0) bad(text, "the user before '@' is empty", "user@host, or the host alone");
    endpoint.user = std::string(rest.substr(0, at));
    rest.remove_prefix(at + 1);
    // ssh(1) decodes %XX and drops ";key=value" here; taken as written they
    // would log in as another user.
    if (uri && endpoint.user->find_first_of(";%") != std::string::npos)
      bad(text, "';' parameters and '%' escapes in an ssh:// user are not supported", "the user plainly");
  }
  std::optional<std::string_view> port;
  auto close = rest.starts_with('[') ? rest.find(']') : npos;
  if (rest.starts_with('[') && close == npos) bad(text, "the '[' has no ']'", "[v6] or [v6]:port");
  if (close != npos && rest.substr(0, close).find(':') != npos) {
    // "[v6]" or "[v6]:port": the brackets keep the address's colons apart.
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') bad(text, "only ':port' may follow the ']'", "[v6]:port");
    if (!after.empty()) port = after.substr(1);
    rest = rest.substr(0, close + 1);
  } else if (auto colon = rest.find(':'); colon != npos && colon == rest.rfind(':')) {
    port = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }  // Several colons and no brackets: a bare IPv6 address, which has no port.
  if (rest.empty()) bad(text, "there is no host", form);
  if (port) {
    endpoint.port = port_number(*port);
    if (!endpoint.port) bad(text, not_a_port(*port), form);
  }
  endpoint.host = std::string(rest);
  return endpoint;
}

std::vector<Endpoint> parse_jump_hops(std::string_view value) {
  std::vector<Endpoint> hops;
  if (lower(value) == "none") return hops;
  for (std::size_t start = 0;;) {
    auto comma = value.find(',', start);
    hops.push_back(parse_endpoint(value.substr(start, comma - start)));  // npos - start: the rest
    if (comma == std::string_view::npos) return hops;
    start = comma + 1;
  }
}

}  // namespace pssh::detail
