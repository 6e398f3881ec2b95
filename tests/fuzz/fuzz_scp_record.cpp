// SCP protocol records a remote scp sends us ("C0644 12 name", "D...", "T...", "E").
#include "files/scp.hpp"

#include <pssh/errors.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  try {
    pssh::detail::parse_scp_record(line, "fuzz-host");
  } catch (const pssh::SCPError&) {
  }
  return 0;
}
