// Shell: commands go to the shell's stdin; the host's worker runs the channel
// (run_on_channel with CommandSpec::shell) exactly as for a command.
#include "text/encoding.hpp"
#include "text/text.hpp"
#include "engine/host_state.hpp"

#include <pssh/shell.hpp>

namespace pssh {

Shell::Shell(HostOutput output, std::string encoding)
    : output_(std::move(output)), encoding_(std::move(encoding)) {}

Shell::~Shell() {
  if (!HostAccess::state_of(output_)) return;  // moved from
  end_input();
  // Nobody can read it any more: keep the worker from holding it.
  HostAccess::state_of(output_)->discard_output(false);
}

Shell::Shell(Shell&&) noexcept = default;

Shell& Shell::operator=(Shell&& other) noexcept {
  if (this != &other) {
    Shell old(std::move(*this));
    output_ = std::move(other.output_);
    encoding_ = std::move(other.encoding_);
    input_ended_ = other.input_ended_;
  }
  return *this;
}

void Shell::run(std::string_view commands) {
  if (!HostAccess::state_of(output_)) throw ShellError("", "this Shell was moved from; use the one it moved to");
  if (input_ended_) {
    throw ShellError(host(), "the shell on " + host() +
                                 " was joined; open a new shell to run more commands");
  }
  if (auto error = exception()) std::rethrow_exception(error);
  std::string text(commands);
  if (text.empty() || text.back() != '\n') text += '\n';
  if (!detail::is_utf8(encoding_)) text = detail::Recoder("UTF-8", encoding_).convert(text);
  HostAccess::state_of(output_)->write_stdin(text);
}

void Shell::run(const std::vector<std::string>& commands) {
  std::string text;
  for (const auto& command : commands) text += command + '\n';
  run(text);
}

void Shell::end_input() {
  auto state = HostAccess::state_of(output_);
  if (input_ended_ || !state) return;  // done already, or moved from
  input_ended_ = true;
  // "exit" keeps the last command's status; EOF alone would not end a PTY shell.
  state->write_stdin("exit\n");
  state->close_stdin();
}

void Shell::join(std::optional<duration> timeout) {
  end_input();
  std::optional<detail::Clock::time_point> deadline;
  if (timeout) deadline = detail::Clock::now() + *timeout;
  if (!HostAccess::state_of(output_)->wait_finished_until(deadline)) {
    throw Timeout(host(), "the shell on " + host() + " did not exit within " +
                              detail::duration_text(*timeout) +
                              "; join again to wait longer, or cancel() it");
  }
}

}  // namespace pssh
