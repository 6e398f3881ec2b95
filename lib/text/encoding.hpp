// Conversion between UTF-8 and a remote encoding with iconv.
#pragma once

#include <iconv.h>

#include <string>
#include <string_view>

namespace pssh::detail {

bool is_utf8(std::string_view encoding);

/// Invalid UTF-8 becomes U+FFFD: for JSON, whose text must be UTF-8.
std::string valid_utf8(std::string_view bytes);

/// One direction of conversion. Bytes that do not convert are kept as they
/// are, so no output is lost to a wrong encoding setting.
class Recoder {
 public:
  /// ConfigError if iconv does not know the encodings.
  Recoder(const std::string& from, const std::string& to);
  ~Recoder();
  Recoder(const Recoder&) = delete;
  Recoder& operator=(const Recoder&) = delete;

  std::string convert(std::string_view text);

 private:
  iconv_t cd_;
};

}  // namespace pssh::detail
