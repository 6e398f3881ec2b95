// JSON inventories (and through them options, host configs, host entries).
#include <pssh/json.hpp>

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded()) return 0;
  try {
    auto inventory = pssh::inventory_from_json(json);
    if (inventory.hosts.size() != inventory.host_config.size()) __builtin_trap();
    pssh::inventory_from_json(pssh::to_json(inventory));  // what we write, we read
  } catch (const pssh::ConfigError&) {  // JsonError among them
  }
  return 0;
}
