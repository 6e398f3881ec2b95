// iconv wrapper.
#include "text/encoding.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <stdexcept>

namespace pssh::detail {

bool is_utf8(std::string_view encoding) {
  std::string e;
  for (char c : encoding)
    if (c != '-' && c != '_') e += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e == "utf8";
}

Recoder::Recoder(const std::string& from, const std::string& to)
    : cd_(::iconv_open(to.c_str(), from.c_str())) {
  if (cd_ == reinterpret_cast<iconv_t>(-1)) {
    throw std::invalid_argument("unknown encoding: cannot convert from " + from + " to " + to +
                                "; use a name `iconv -l` lists");
  }
}

Recoder::~Recoder() { ::iconv_close(cd_); }

std::string Recoder::convert(std::string_view text) {
  std::string out;
  out.resize(text.size() * 4 + 16);
  char* in = const_cast<char*>(text.data());
  std::size_t in_left = text.size();
  char* dst = out.data();
  std::size_t out_left = out.size();
  auto grow = [&] {
    std::size_t used = static_cast<std::size_t>(dst - out.data());
    out.resize(out.size() * 2);
    dst = out.data() + used;
    out_left = out.size() - used;
  };
  ::iconv(cd_, nullptr, nullptr, nullptr, nullptr);
  while (in_left > 0) {
    if (::iconv(cd_, &in, &in_left, &dst, &out_left) != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      grow();
      continue;
    }
    // Invalid or incomplete input: keep the byte unconverted and go on.
    if (out_left == 0) grow();
    *dst++ = *in++;
    --out_left;
    --in_left;
  }
  out.resize(static_cast<std::size_t>(dst - out.data()));
  return out;
}

}  // namespace pssh::detail
