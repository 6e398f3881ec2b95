// HostOutput, OutputRange and StdinWriter: the caller's view of a HostState.
#include "engine/host_state.hpp"

#include <pssh/output.hpp>

namespace pssh {

OutputRange::iterator::iterator(std::shared_ptr<HostState> state, Stream stream, Unit unit)
    : state_(std::move(state)), stream_(stream), unit_(unit) {
  ++*this;
}

OutputRange::iterator& OutputRange::iterator::operator++() {
  item_ = unit_ == Unit::line ? state_->next_line(stream_) : state_->next_chunk(stream_);
  return *this;
}

void StdinWriter::write(std::string_view data) { state_->write_stdin(data); }
void StdinWriter::flush() { state_->flush_stdin(); }
void StdinWriter::close() { state_->close_stdin(); }

HostOutput::HostOutput(std::shared_ptr<HostState> state) : state_(std::move(state)) {}

const std::string& HostOutput::host() const { return state_->host; }
const std::string& HostOutput::alias() const { return state_->alias; }
std::size_t HostOutput::index() const { return state_->index; }
std::optional<int> HostOutput::exit_code() const { return state_->exit_code(); }
std::optional<std::string> HostOutput::exit_signal() const { return state_->exit_signal(); }
std::exception_ptr HostOutput::exception() const { return state_->error(); }
bool HostOutput::finished() const { return state_->finished(); }
void HostOutput::close_channel() const {
  state_->request_stop(detail::StopReason::closed_by_caller);
}
void HostOutput::set_read_timeout(duration timeout) const { state_->set_read_timeout(timeout); }

SplitOutput split_output(const Output& output) {
  SplitOutput split;
  for (const HostOutput& h : output) {
    bool succeeded = h.finished() && !h.exception() && !h.exit_signal() && h.exit_code() == 0;
    (succeeded ? split.succeeded : split.failed).push_back(h);
  }
  return split;
}

}  // namespace pssh
