// Small text helpers shared by error messages.
#pragma once

#include <pssh/options.hpp>

#include <string>

namespace pssh::detail {

/// "5 s" or "250 ms".
inline std::string duration_text(duration d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

}  // namespace pssh::detail
