// Small text helpers shared by messages and parsers.
#pragma once

#include <pssh/options.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace pssh::detail {

/// "5 s" or "250 ms".
inline std::string duration_text(duration d) {
  auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

/// ASCII lower case, for keywords that ignore case.
inline std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// Outside text fit for a message: at most 80 bytes, control bytes as '?'.
inline std::string printable(std::string_view text) {
  std::string out(text.substr(0, 80));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

}  // namespace pssh::detail
