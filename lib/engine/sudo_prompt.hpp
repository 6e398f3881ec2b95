// Answering sudo for a command run through it (RunOptions::sudo_password):
// the run's markers are found in the stream sudo writes to and taken out of
// the output; this says when the password is due, when the caller's stdin
// may follow, and when sudo refused.
#pragma once

#include "config/command_text.hpp"

#include <pssh/output.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pssh::detail {

/// What a command run through sudo needs for its prompt.
struct SudoSpec {
  SudoMarkers markers;
  std::optional<std::string> password;
};

class SudoPrompt {
 public:
  /// `user` and `host` name the login in messages. With a PTY, sudo's
  /// prompt and the command's stderr arrive on stdout.
  SudoPrompt(const SudoSpec& spec, bool pty, std::string user, std::string host);
  ~SudoPrompt();
  SudoPrompt(const SudoPrompt&) = delete;
  SudoPrompt& operator=(const SudoPrompt&) = delete;

  /// The stream sudo prompts on.
  Stream stream() const noexcept { return stream_; }
  /// The output in `bytes` (of stream()) without the markers; the end of
  /// `bytes` that may begin a marker is held back until the next call.
  /// Valid until the next call.
  std::string_view filter(std::string_view bytes);
  /// What was held back, at the end of the stream.
  std::string_view flush();
  /// SudoError if sudo asked for a password and none was given, or asked
  /// again after it was sent (it refused it).
  void check() const;
  /// SudoError if the command ended after the password was sent without
  /// sudo having started it (a refusal without a second prompt).
  void check_ended() const;
  /// The part of the password (and its newline) not yet written to stdin:
  /// empty until sudo asked.
  std::string_view answer() const;
  void answer_sent(std::size_t bytes);
  /// Until sudo has started the command, the caller's stdin (and its EOF)
  /// waits: it would be read by sudo as the password.
  bool holds_stdin() const noexcept { return !started_; }

 private:
  /// Moves held_ to shown_, less the markers; what may begin one stays.
  void scan();
  [[noreturn]] void refused() const;

  const std::string prompt_marker_, started_marker_;
  std::string answer_;  // the password and "\n", zeroed once sent
  std::size_t answer_sent_ = 0;
  const bool has_password_, pty_;
  const Stream stream_;
  const std::string user_, host_;
  int prompts_ = 0;
  bool started_ = false;
  bool after_prompt_ = false;  // with a PTY: sudo's newline after the password comes next
  std::string held_, shown_;
  std::string said_;  // what sudo wrote after the password: the reason of a refusal
};

}  // namespace pssh::detail
