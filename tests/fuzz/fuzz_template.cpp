// host_args templates: the first line is the template, the others values
// (positional, and named by their line number).
#include "config/command_text.hpp"

#include <pssh/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::string templ = text.substr(0, text.find('\n'));
  std::vector<std::string> values;
  std::map<std::string, std::string> named;
  for (std::size_t start = templ.size() + 1; start < text.size();) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    named["v" + std::to_string(values.size())] = text.substr(start, end - start);
    values.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  for (const pssh::HostArgs& args : {pssh::HostArgs(values), pssh::HostArgs(named)}) {
    try {
      pssh::detail::format_command(templ, args, "fuzz-host");
    } catch (const pssh::HostArgumentError&) {
    }
  }
  return 0;
}
