// ChannelBridge: non-blocking reads on both sides, at most one chunk held per
// direction, so SSH's window and the socket buffer do the flow control.
#include "ssh/bridge.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace pssh::detail {
namespace {

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR; }

}  // namespace

ChannelBridge::Status ChannelBridge::pump(bool& moved) {
  ssh_channel ch = channel_.get();
  char buffer[64 * 1024];
  for (bool progressed = true; progressed; moved |= progressed) {
    progressed = false;
    if (to_socket_.empty() && !channel_eof_passed_) {
      int n = ssh_channel_read_nonblocking(ch, buffer, sizeof buffer, 0);
      if (n == SSH_ERROR) return Status::channel_lost;
      if (n > 0) to_socket_.assign(buffer, static_cast<std::size_t>(n));
    }
    if (!to_socket_.empty()) {
      ssize_t n = ::send(socket_.get(), to_socket_.data(), to_socket_.size(), MSG_NOSIGNAL);
      if (n < 0 && !would_block()) return Status::done;  // the socket's reader is gone
      if (n > 0) {
        to_socket_.erase(0, static_cast<std::size_t>(n));
        progressed = true;
      }
    }
    if (to_socket_.empty() && !channel_eof_passed_ && ssh_channel_is_eof(ch)) {
      ::shutdown(socket_.get(), SHUT_WR);
      channel_eof_passed_ = progressed = true;
    }
    if (to_channel_.empty() && !socket_eof_) {
      std::size_t room = std::min<std::size_t>(ssh_channel_window_size(ch), sizeof buffer);
      ssize_t n = room == 0 ? -1 : ::recv(socket_.get(), buffer, room, 0);
      if (n > 0) to_channel_.assign(buffer, static_cast<std::size_t>(n));
      if (n == 0 || (n < 0 && room > 0 && !would_block())) {
        socket_eof_ = progressed = true;
        ssh_channel_send_eof(ch);
      }
    }
    if (!to_channel_.empty()) {
      int n = ssh_channel_write(ch, to_channel_.data(), static_cast<std::uint32_t>(to_channel_.size()));
      if (n == SSH_ERROR) return Status::channel_lost;
      if (n > 0) {
        to_channel_.erase(0, static_cast<std::size_t>(n));
        progressed = true;
      }
    }
  }
  bool closed = ssh_channel_is_closed(ch) && to_socket_.empty();
  return closed || (socket_eof_ && channel_eof_passed_) ? Status::done : Status::running;
}

short ChannelBridge::socket_events() const {
  short events = 0;
  if (to_channel_.empty() && !socket_eof_) events |= POLLIN;
  if (!to_socket_.empty()) events |= POLLOUT;
  return events;
}

}  // namespace pssh::detail
