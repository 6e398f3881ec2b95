// Template substitution and command wrapping. Values are inserted verbatim:
// quoting is the caller's choice (shell_quote).
#include "config/command_text.hpp"

#include <pssh/errors.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <random>

namespace pssh {

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string literal_template(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '{' || c == '}') out += c;
  }
  return out;
}

namespace detail {
namespace {

[[noreturn]] void bad_template(const std::string& host, const std::string& why) {
  throw HostArgumentError(host, "cannot build the command for " + host + ": " + why);
}

/// The value `field` names (empty: the next positional one); `shown` is the
/// field as the template wrote it, for the error.
std::string lookup(const HostArgs& args, std::string_view field, std::string_view shown,
                   std::size_t& next_positional, const std::string& host) {
  if (const auto* list = std::get_if<std::vector<std::string>>(&args)) {
    std::size_t index = next_positional;
    if (!field.empty()) {
      auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), index);
      if (ec != std::errc() || end != field.data() + field.size()) {
        bad_template(host, "the template names " + std::string(shown) +
                               " but this host's host_args is a list; give a map");
      }
    } else {
      ++next_positional;
    }
    if (index >= list->size()) {
      bad_template(host, "the template uses positional argument " + std::to_string(index) +
                             " but host_args has " + std::to_string(list->size()) +
                             " value(s) for this host");
    }
    return (*list)[index];
  }
  const auto& map = std::get<std::map<std::string, std::string>>(args);
  auto found = map.find(std::string(field));
  if (found == map.end()) {
    bad_template(host, "host_args has no value named '" + std::string(field) +
                           "' for this host (the template uses " + std::string(shown) + ")");
  }
  return found->second;
}

/// "{}", "{0}", "{name}"; "{{" and "}}" are braces.
std::string format_braces(std::string_view templ, const HostArgs& args, const std::string& host) {
  std::string out;
  std::size_t next_positional = 0;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    char c = templ[i];
    bool doubled = i + 1 < templ.size() && templ[i + 1] == c;
    if (c == '}') {
      if (!doubled) bad_template(host, "single '}' at position " + std::to_string(i) + "; write '}}'");
      out += '}';
      ++i;
    } else if (c == '{' && doubled) {
      out += '{';
      ++i;
    } else if (c == '{') {
      auto close = templ.find('}', i);
      if (close == std::string_view::npos)
        bad_template(host, "unclosed '{' at position " + std::to_string(i) + "; write '{{'");
      out += lookup(args, templ.substr(i + 1, close - i - 1), templ.substr(i, close - i + 1),
                    next_positional, host);
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

/// Python's "%s" (positional) and "%(name)s" (named), as parallel-ssh's
/// docs write them; "%%" is a '%'. Any other conversion is refused, as
/// Python refuses what it cannot format.
std::string format_percent(std::string_view templ, const HostArgs& args, const std::string& host) {
  const bool named_args = std::holds_alternative<std::map<std::string, std::string>>(args);
  std::string out;
  std::size_t next_positional = 0;
  for (std::size_t i = 0; i < templ.size(); ++i) {
    if (templ[i] != '%') {
      out += templ[i];
      continue;
    }
    if (i + 1 < templ.size() && templ[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    std::string_view field;
    std::size_t at = i + 1;
    if (at < templ.size() && templ[at] == '(') {
      auto close = templ.find(')', at);
      if (close == std::string_view::npos)
        bad_template(host, "unclosed '%(' at position " + std::to_string(i) + "; write '%%' for a '%'");
      field = templ.substr(at + 1, close - at - 1);
      at = close + 1;
    }
    if (at >= templ.size() || templ[at] != 's') {
      bad_template(host, "'" + std::string(templ.substr(i, std::min<std::size_t>(at + 1, templ.size()) - i)) +
                             "' at position " + std::to_string(i) +
                             " is not %s or %(name)s, the Python conversions pssh takes; write '%%' "
                             "for a '%' (or use {} fields)");
    }
    std::string_view shown = templ.substr(i, at + 1 - i);
    if (field.empty() && named_args)
      bad_template(host, "the template uses " + std::string(shown) + " but host_args is a map; write %(name)s");
    if (!field.empty() && !named_args)
      bad_template(host, "the template uses " + std::string(shown) + " but host_args is a list; give a map");
    out += lookup(args, field, shown, next_positional, host);
    i = at;
  }
  return out;
}

}  // namespace

std::string format_command(std::string_view templ, const HostArgs& args, const std::string& host,
                           Fields fields) {
  // One style per template: any brace (a field, or an escaped "{{") makes
  // it brace-style, where a '%' is a '%' ("printf '%s' {}"); else Python's,
  // if it has a '%'.
  bool python = fields == Fields::braces_or_python &&
                templ.find_first_of("{}") == std::string_view::npos &&
                templ.find('%') != std::string_view::npos;
  return python ? format_percent(templ, args, host) : format_braces(templ, args, host);
}

SudoMarkers SudoMarkers::random() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> any;
  char nonce[17];
  std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(any(device)));
  return {std::string("[pssh-sudo-prompt-") + nonce + "]",
          std::string("[pssh-sudo-started-") + nonce + "]"};
}

std::string wrap_command(const std::string& command, const RunOptions& options,
                         const SudoMarkers& markers) {
  if (!options.sudo && !options.user)
    return options.shell ? *options.shell + " " + shell_quote(command) : command;
  // sudo's "-S" reads the password from stdin and writes the prompt to
  // stderr (a PTY's, which is stdout, with use_pty). The started mark tells
  // the reader of that stream that no prompt comes any more, so the
  // caller's stdin goes to the command, not to sudo (as Ansible's "become").
  std::string run = options.shell ? *options.shell + " " + shell_quote(command)
                                  : "sh -c " + shell_quote(command);
  return "sudo -S -p " + shell_quote(markers.prompt) +
         (options.user ? " -u " + shell_quote(*options.user) : std::string()) + " sh -c " +
         shell_quote("printf %s " + shell_quote(markers.started) + " >&2; exec " + run);
}

}  // namespace detail
}  // namespace pssh
