// iconv wrapper.
#include "text/encoding.hpp"

#include <pssh/errors.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <map>
#include <regex>
#include <stdexcept>
#include <vector>

namespace pssh::detail {

namespace {

/// Lower case, '_' as '-': how Python normalizes a codec name.
std::string normalized(std::string_view name) {
  std::string n;
  for (char c : name) n += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

/// The names iconv may know `name` by: as given, then Python's spelling
/// mapped to iconv's (parallel-ssh users write "latin-1", "utf_8", "cp1252").
std::vector<std::string> iconv_names(const std::string& name) {
  std::string n = normalized(name);
  std::vector<std::string> names{name, n};
  static const std::map<std::string, std::string> python{
      {"latin-1", "ISO-8859-1"}, {"l1", "ISO-8859-1"},  {"latin", "ISO-8859-1"},
      {"u8", "UTF-8"},           {"utf", "UTF-8"},       {"cp65001", "UTF-8"},
      {"mac-roman", "MACINTOSH"}, {"macroman", "MACINTOSH"}};
  if (auto known = python.find(n); known != python.end()) names.push_back(known->second);
  // latin-2 -> LATIN2, utf-16-le -> UTF-16LE, iso2022-jp -> ISO-2022-JP
  static const std::regex spellings[] = {std::regex("^(latin)-([0-9]+)$"),
                                         std::regex("^(utf-(?:16|32))-(le|be)$"),
                                         std::regex("^(iso)(2022-.*)$")};
  static const char* const replacements[] = {"$1$2", "$1$2", "$1-$2"};
  for (std::size_t i = 0; i < std::size(spellings); ++i)
    if (std::regex_match(n, spellings[i])) names.push_back(std::regex_replace(n, spellings[i], replacements[i]));
  return names;
}

/// Bytes of one code unit of `encoding` (iconv's name): what "\n" more
/// costs, so that a byte-order mark does not count. 1 if iconv cannot tell.
std::size_t code_unit(const std::string& encoding) {
  iconv_t cd = ::iconv_open(encoding.c_str(), "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) return 1;
  auto encoded_size = [cd](std::string text) {
    char out[64];
    char* in = text.data();
    std::size_t in_left = text.size(), out_left = sizeof out;
    char* dst = out;
    ::iconv(cd, nullptr, nullptr, nullptr, nullptr);
    ::iconv(cd, &in, &in_left, &dst, &out_left);
    return sizeof out - out_left;
  };
  std::size_t one = encoded_size("\n"), two = encoded_size("\n\n");
  ::iconv_close(cd);
  return two > one ? two - one : 1;
}

}  // namespace

bool is_utf8(std::string_view encoding) {
  std::string n = normalized(encoding);
  return n == "utf-8" || n == "utf8" || n == "u8" || n == "utf" || n == "cp65001";
}

Recoder::Recoder(const std::string& from, const std::string& to) : cd_(reinterpret_cast<iconv_t>(-1)) {
  for (const auto& to_name : iconv_names(to)) {
    for (const auto& from_name : iconv_names(from)) {
      cd_ = ::iconv_open(to_name.c_str(), from_name.c_str());
      if (cd_ != reinterpret_cast<iconv_t>(-1)) {
        unit_ = code_unit(from_name);
        return;
      }
    }
  }
  throw ConfigError("", "unknown encoding: cannot convert from " + from + " to " + to +
                              "; use a name `iconv -l` lists or a Python codec name");
}

Recoder::~Recoder() { ::iconv_close(cd_); }

std::string Recoder::convert(std::string_view text) {
  std::string out;
  ::iconv(cd_, nullptr, nullptr, nullptr, nullptr);
  convert_into(text, true, out);
  return out;
}

std::string Recoder::feed(std::string_view piece, bool last) {
  std::string out;
  if (pending_.empty()) {
    std::size_t taken = convert_into(piece, last, out);
    pending_.assign(piece.substr(taken));
  } else {
    pending_.append(piece);
    std::size_t taken = convert_into(pending_, last, out);
    pending_.erase(0, taken);
  }
  return out;
}

std::size_t Recoder::convert_into(std::string_view text, bool last, std::string& out) {
  std::size_t start = out.size();
  out.resize(start + text.size() * 4 + 16);
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  char* dst = out.data() + start;
  std::size_t out_left = out.size() - start;
  auto grow = [&] {
    std::size_t used = static_cast<std::size_t>(dst - out.data());
    out.resize(out.size() * 2);
    dst = out.data() + used;
    out_left = out.size() - used;
  };
  while (in_left > 0) {
    if (::iconv(cd_, &in, &in_left, &dst, &out_left) != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      grow();
      continue;
    }
    // The rest is the start of a character: the next piece completes it.
    if (errno == EINVAL && !last) break;
    if (unit_ > 1) {
      // A wide code unit that does not decode: U+FFFD for it, and the next
      // unit read whole (skipping one byte would misread all that follows).
      while (out_left < 3) grow();
      std::memcpy(dst, "\xEF\xBF\xBD", 3);
      dst += 3;
      out_left -= 3;
      std::size_t skip = std::min(unit_, in_left);
      in += skip;
      in_left -= skip;
      continue;
    }
    // Invalid or incomplete input: keep the byte unconverted and go on.
    if (out_left == 0) grow();
    *dst++ = *in++;
    --out_left;
    --in_left;
  }
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return text.size() - in_left;
}

bool needs_decoding_before_lines(const std::string& encoding) {
  if (is_utf8(encoding)) return false;
  return Recoder("UTF-8", encoding).convert("\n") != "\n";
}

std::string valid_utf8(std::string_view bytes) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size();) {
    auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = length > 0 && i + length <= bytes.size();
    for (std::size_t k = 1; ok && k < length; ++k)
      ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(bytes.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

}  // namespace pssh::detail
