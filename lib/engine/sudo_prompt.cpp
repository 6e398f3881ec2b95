// sudo's prompt, found in the output and answered. What Debian 12's sudo
// 1.9.13 writes (seen over ssh): with -S and no PTY, the prompt on stderr
// without a newline, then nothing of its own after a right password, or
// "Sorry, try again.\n" and the prompt again after a wrong one (after PAM's
// delay of about 2.5 s), three times, then "sudo: 3 incorrect password
// attempts" and status 1. With a PTY, all of it on stdout, and "\r\n" after
// the password (sudo turned the echo off before its prompt, and ends the
// line it did not echo). A password written before the prompt was lost
// with a PTY (sudo waited for ever) and would be the command's stdin
// without sudo asking (NOPASSWD): it is written only once the prompt is seen.
#include "engine/sudo_prompt.hpp"

#include "text/text.hpp"

#include <pssh/errors.hpp>

#include <algorithm>
#include <cstring>

namespace pssh::detail {

SudoPrompt::SudoPrompt(const SudoSpec& spec, bool pty, std::string user, std::string host)
    : prompt_marker_(spec.markers.prompt),
      started_marker_(spec.markers.started),
      answer_(spec.password ? *spec.password + "\n" : std::string()),
      has_password_(spec.password.has_value()),
      pty_(pty),
      stream_(pty ? Stream::out : Stream::err),
      user_(std::move(user)),
      host_(std::move(host)) {}

SudoPrompt::~SudoPrompt() { ::explicit_bzero(answer_.data(), answer_.size()); }

std::string_view SudoPrompt::filter(std::string_view bytes) {
  if (started_ && held_.empty()) return bytes;
  held_.append(bytes);
  shown_.clear();
  scan();
  return shown_;
}

std::string_view SudoPrompt::flush() {
  shown_.swap(held_);
  held_.clear();
  return shown_;
}

void SudoPrompt::scan() {
  std::size_t at = 0;
  auto show = [&](std::size_t end) {
    std::string_view part = std::string_view(held_).substr(at, end - at);
    shown_.append(part);
    if (prompts_ > 0) {
      said_.append(part);
      if (said_.size() > 512) said_.erase(0, said_.size() - 512);
    }
    at = end;
  };
  while (!started_) {
    if (after_prompt_) {
      while (at < held_.size() && held_[at] == '\r') ++at;
      if (at == held_.size()) break;
      if (held_[at] == '\n') ++at;
      after_prompt_ = false;
    }
    std::size_t prompt = held_.find(prompt_marker_, at);
    std::size_t started = held_.find(started_marker_, at);
    std::size_t next = std::min(prompt, started);
    if (next == std::string::npos) break;
    show(next);
    if (next == prompt) {
      ++prompts_;
      at += prompt_marker_.size();
      after_prompt_ = pty_;
    } else {
      started_ = true;
      at += started_marker_.size();
    }
  }
  // The end may be the start of a marker: held back until more comes.
  std::size_t keep = 0;
  if (!started_) {
    std::size_t rest = held_.size() - at;
    std::size_t longest = std::max(prompt_marker_.size(), started_marker_.size()) - 1;
    for (std::size_t k = std::min(rest, longest); k > 0 && keep == 0; --k) {
      std::string_view tail = std::string_view(held_).substr(held_.size() - k);
      if (prompt_marker_.starts_with(tail) || started_marker_.starts_with(tail)) keep = k;
    }
  }
  show(held_.size() - keep);
  held_.erase(0, at);
}

void SudoPrompt::check() const {
  if (prompts_ == 0) return;
  if (!has_password_) {
    throw SudoError(host_, "sudo asks for a password for " + user_ + " on " + host_ +
                               ": set RunOptions::sudo_password (pssh -A)");
  }
  if (prompts_ > 1) refused();
}

void SudoPrompt::check_ended() const {
  if (prompts_ > 0 && !started_) refused();
}

std::string_view SudoPrompt::answer() const {
  if (prompts_ != 1 || !has_password_) return {};
  return std::string_view(answer_).substr(answer_sent_);
}

void SudoPrompt::answer_sent(std::size_t bytes) {
  answer_sent_ += bytes;
  if (answer_sent_ == answer_.size()) ::explicit_bzero(answer_.data(), answer_.size());
}

void SudoPrompt::refused() const {
  // sudo's last words name the reason ("Sorry, try again.", "sudo: 1
  // incorrect password attempt", "deploy is not in the sudoers file.");
  // sudo never echoes the password, and never prints it.
  std::string_view said = said_;
  while (!said.empty() && (said.back() == '\n' || said.back() == '\r')) said.remove_suffix(1);
  if (auto end = said.find_last_of("\r\n"); end != std::string_view::npos) said.remove_prefix(end + 1);
  throw SudoError(host_, "sudo refused the password for " + user_ + " on " + host_ +
                             (said.empty() ? std::string() : ": " + printable(said)));
}

}  // namespace pssh::detail
