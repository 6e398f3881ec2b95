// ssh_config text and ProxyJump values.
#include "ssh_config.hpp"

#include <pssh/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto entry = pssh::detail::lookup_ssh_config(text, "web1", "fuzz");
    if (entry.proxy_jump) pssh::detail::parse_proxy_jump(*entry.proxy_jump, "web1", "fuzz");
  } catch (const pssh::Error&) {
  }
  try {
    pssh::detail::parse_proxy_jump(text, "web1", "fuzz");
  } catch (const pssh::Error&) {
  }
  return 0;
}
