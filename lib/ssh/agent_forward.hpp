// Agent forwarding: the server opens an "auth-agent@openssh.com" channel for
// every remote connection to the forwarded agent; each is bridged to a new
// connection to the local agent ($SSH_AUTH_SOCK) by the host's worker.
#pragma once

#include "ssh/bridge.hpp"
#include "ssh/session.hpp"

#include <libssh/callbacks.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pssh::detail {

class AgentForwarding {
 public:
  /// Accepts the server's agent channels on `session` from now on and asks
  /// for forwarding on `channel` (before its command starts).
  AgentForwarding(Session& session, ssh_channel channel);
  ~AgentForwarding();
  AgentForwarding(const AgentForwarding&) = delete;
  AgentForwarding& operator=(const AgentForwarding&) = delete;

  /// Moves agent traffic and keeps `event` polling the agent sockets; true if
  /// anything moved. Call from the worker's loop.
  bool pump(ssh_event event);
  /// Stops polling the agent sockets on `event` (before it is freed).
  void detach(ssh_event event);

 private:
  static ssh_channel on_open(ssh_session session, void* self);
  struct Connection {
    ChannelBridge bridge;
    short polled = 0;  // the events `event` polls the socket for
  };
  ssh_session ssh_;
  std::optional<std::string> agent_path_;  // the host's IdentityAgent, as ssh(1) forwards it
  ssh_callbacks_struct callbacks_{};
  std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace pssh::detail
