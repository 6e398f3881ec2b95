// Host entries and ranges: "[user@]host[:port]" with "[1-3,9]" groups.
#include <pssh/hosts.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& entry : pssh::parse_host_entry(text))
      if (entry.host.empty()) __builtin_trap();
  } catch (const pssh::ConfigError&) {
  }
  return 0;
}
