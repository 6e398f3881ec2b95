// Conversion between UTF-8 and a remote encoding with iconv.
#pragma once

#include <iconv.h>

#include <string>
#include <string_view>

namespace pssh::detail {

bool is_utf8(std::string_view encoding);

/// True when text in `encoding` cannot be cut into lines at the byte '\n':
/// UTF-16 and UTF-32 (a newline is two or four bytes, and 0x0A occurs inside
/// other characters), EBCDIC. Such output is decoded as it arrives.
/// ConfigError if iconv does not know the encoding.
bool needs_decoding_before_lines(const std::string& encoding);

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

  /// Converts one whole text.
  std::string convert(std::string_view text);

  /// Converts a stream that arrives in pieces: a character cut at the end of
  /// one piece is completed by the next, and a byte-order mark is read once.
  /// `last`: the stream ends; an incomplete character is kept as it is.
  std::string feed(std::string_view piece, bool last);

 private:
  /// Converts `text` from the current state; stops before an incomplete
  /// character at its end unless `last`, and returns how many bytes it took.
  std::size_t convert_into(std::string_view text, bool last, std::string& out);

  iconv_t cd_;
  std::size_t unit_ = 1;  // bytes of one code unit of the source: 2 for UTF-16
  std::string pending_;  // feed(): the start of a character cut by a piece's end
};

}  // namespace pssh::detail
