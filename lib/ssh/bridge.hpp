// Bytes between an SSH channel and a local socket, both ways, EOF included:
// what a proxy tunnel and a forwarded agent connection both are.
#pragma once

#include "base/unique_fd.hpp"
#include "ssh/handles.hpp"

#include <string>

namespace pssh::detail {

class ChannelBridge {
 public:
  ChannelBridge(ChannelPtr channel, UniqueFd socket)
      : channel_(std::move(channel)), socket_(std::move(socket)) {}

  enum class Status { running, done, channel_lost };
  /// Moves what can move now without blocking. Sets `moved` if anything did.
  /// Call it from the thread that runs the channel's session.
  Status pump(bool& moved);
  /// What poll() should wait for on socket() (0: nothing; then use fd -1).
  short socket_events() const;
  int socket() const noexcept { return socket_.get(); }
  ssh_channel channel() const noexcept { return channel_.get(); }

 private:
  ChannelPtr channel_;
  UniqueFd socket_;
  std::string to_socket_, to_channel_;  // read from one side, not yet taken by the other
  bool socket_eof_ = false;             // the socket stopped sending
  bool channel_eof_passed_ = false;     // the channel's EOF reached the socket
};

}  // namespace pssh::detail
