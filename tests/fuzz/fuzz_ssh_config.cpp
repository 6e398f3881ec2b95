// ssh_config text (with Include) and ProxyJump values.
#include "config/ssh_config.hpp"

#include <pssh/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    // Every Include names the input itself: nesting until the depth limit.
    auto include = [&](const std::string&, bool) {
      return std::vector<pssh::detail::IncludedFile>{{"fuzz-include", text}};
    };
    // Match exec would run the input as a command: never.
    pssh::detail::LookupContext context;
    context.run_exec = false;
    auto entry = pssh::detail::lookup_ssh_config({{"fuzz", text, false}, {"fuzz-system", text, true}},
                                                 "web1", "web1", context, include);
    if (entry.options.proxy_jump) pssh::detail::parse_proxy_jump(*entry.options.proxy_jump, "web1", "fuzz");
  } catch (const pssh::Error&) {
  }
  try {
    pssh::detail::parse_proxy_jump(text, "web1", "fuzz");
  } catch (const pssh::Error&) {
  }
  return 0;
}
