// AgentForwarding: libssh calls on_open while it decodes packets in the
// worker (any libssh call); pump() then moves the bytes.
#include "ssh/agent_forward.hpp"

#include "net/socket.hpp"

#include <pssh/errors.hpp>

namespace pssh::detail {
namespace {

int ignore_event(socket_t, int, void*) { return 0; }

}  // namespace

AgentForwarding::AgentForwarding(Session& session, ssh_channel channel)
    : ssh_(session.handle()), agent_path_(agent_socket_path(session.settings())) {
  callbacks_.userdata = this;
  callbacks_.channel_open_request_auth_agent_function = on_open;
  ssh_callbacks_init(&callbacks_);
  ssh_set_callbacks(ssh_, &callbacks_);
  if (session.step([&] { return ssh_channel_request_auth_agent(channel); }) != SSH_OK)
    session.fail<SessionError>("requesting agent forwarding");
}

AgentForwarding::~AgentForwarding() {
  // libssh cannot drop session callbacks, only replace them.
  static ssh_callbacks_struct none = [] {
    ssh_callbacks_struct c{};
    ssh_callbacks_init(&c);
    return c;
  }();
  ssh_set_callbacks(ssh_, &none);
}

ssh_channel AgentForwarding::on_open(ssh_session session, void* self) {
  auto* forwarding = static_cast<AgentForwarding*>(self);
  UniqueFd agent = connect_local_agent(forwarding->agent_path_);
  ChannelPtr channel(ssh_channel_new(session));
  if (!agent || !channel) return nullptr;  // libssh refuses the channel
  ssh_channel raw = channel.get();
  forwarding->connections_.push_back(std::make_unique<Connection>(
      Connection{ChannelBridge(std::move(channel), std::move(agent)), 0}));
  return raw;
}

bool AgentForwarding::pump(ssh_event event) {
  bool moved = false;
  std::erase_if(connections_, [&](const std::unique_ptr<Connection>& c) {
    bool over = c->bridge.pump(moved) != ChannelBridge::Status::running;
    short wanted = over ? 0 : c->bridge.socket_events();
    if (wanted != c->polled) {
      if (c->polled != 0) ssh_event_remove_fd(event, c->bridge.socket());
      if (wanted != 0) ssh_event_add_fd(event, c->bridge.socket(), wanted, ignore_event, nullptr);
      c->polled = wanted;
    }
    return over;
  });
  return moved;
}

void AgentForwarding::detach(ssh_event event) {
  for (auto& c : connections_) {
    if (c->polled != 0) ssh_event_remove_fd(event, c->bridge.socket());
    c->polled = 0;
  }
}

}  // namespace pssh::detail
