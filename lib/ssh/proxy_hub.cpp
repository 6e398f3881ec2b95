// The proxy's thread owns the proxy's libssh session (non-blocking) and moves
// bytes between each target's socketpair end and its direct-tcpip channel.
// Target workers never touch the proxy session: they queue a Route and wait.
#include "ssh/proxy_hub.hpp"

#include "text/text.hpp"
#include "ssh/bridge.hpp"
#include "ssh/session.hpp"

#include <pssh/errors.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace pssh::detail {

void Tunnel::set_open() {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::opening) state_ = State::open;
  }
  changed_.notify_all();
}

void Tunnel::set_failed(std::string reason) {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::failed) return;
    state_ = State::failed;
    reason_ = std::move(reason);
  }
  changed_.notify_all();
}

Tunnel::State Tunnel::wait(Clock::time_point until, std::stop_token stop) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, stop, until, [&] { return state_ != State::opening; });
  return state_;
}

std::optional<std::string> Tunnel::failure() const {
  std::lock_guard lock(mutex_);
  if (state_ != State::failed) return std::nullopt;
  return reason_;
}

/// One target's tunnel on the proxy's thread: first a channel being opened,
/// then a bridge between it and the proxy's end of the socketpair.
struct ProxyHub::Route {
  std::shared_ptr<Tunnel> tunnel;
  std::string target, host;
  int port = 0;
  Clock::time_point deadline;
  UniqueFd fd;         // the proxy's end of the socketpair, until the channel opens
  ChannelPtr channel;  // likewise
  std::optional<ChannelBridge> bridge;
};

ProxyHub::ProxyHub(HostSettings proxy, std::shared_ptr<ProxyHub> via, Watchdog& watchdog)
    : proxy_(std::move(proxy)), via_(std::move(via)), watchdog_(watchdog),
      wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!wake_fd_) throw std::system_error(errno, std::generic_category(), "eventfd");
}

ProxyHub::~ProxyHub() { stop_pump(); }

void ProxyHub::stop_pump() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  session_.reset();
}

bool ProxyHub::connect(const std::string& target, Clock::time_point deadline, std::stop_token stop) {
  std::unique_ptr<Session> session;
  auto session_stop = std::make_unique<StopSource>();  // what cancel_connect() requests
  {
    std::unique_lock lock(mutex_);
    // Another host may be connecting the proxy: this host's own deadline
    // and stop end the wait.
    if (!connect_done_.wait_until(lock, stop, deadline, [&] { return connecting_ == nullptr; })) {
      if (stop.stop_requested()) return false;
      throw Timeout(target, "waiting for the proxy " + name() + " to connect for " + target +
                                " timed out (timeout); check that the proxy answers");
    }
    if (running_) return true;
    // cancel_connect() takes this lock after the target's own stop: a
    // cancel either sees the new session below or is seen here.
    if (stop.stop_requested()) return false;
    session = std::make_unique<Session>(proxy_, via_, watchdog_);
    session->serve(session_stop.get());
    connecting_ = session.get();
    connecting_stop_ = session_stop.get();
  }
  auto done = [&] {
    {
      std::lock_guard lock(mutex_);
      connecting_ = nullptr;
      connecting_stop_ = nullptr;
    }
    connect_done_.notify_all();
  };
  // The previous pump has ended (the proxy was lost): start afresh.
  if (thread_.joinable()) thread_.join();
  try {
    session->open([](Event::Kind) {});
  } catch (const Cancelled&) {
    done();
    return false;
  } catch (const Error& e) {
    done();
    throw ProxyError(target, "cannot reach " + target + " through the proxy " + name() + ": " +
                                 e.what());
  } catch (...) {
    done();  // connecting_ must not outlive the session it names
    throw;
  }
  ssh_set_blocking(session->handle(), 0);
  session_ = std::move(session);
  session_stop_ = std::move(session_stop);  // after: the session it replaced served the old one
  {
    std::lock_guard lock(mutex_);
    running_ = true;
  }
  thread_ = std::thread(&ProxyHub::pump, this);
  done();  // only now: the next connect (after a lost proxy) joins this thread
  return true;
}

void ProxyHub::cancel_connect() {
  {
    std::lock_guard lock(mutex_);
    if (connecting_) {
      connecting_stop_->request(StopReason::cancelled);
      connecting_->cut();
    }
  }
  if (via_) via_->cancel_connect();
}

std::optional<ProxyHub::Opened> ProxyHub::open(const std::string& target, const std::string& host,
                                               int port, Clock::time_point deadline,
                                               std::stop_token stop) {
  if (!connect(target, deadline, stop)) return std::nullopt;
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair for " + target);
  UniqueFd ours(pair[0]);
  auto route = std::make_unique<Route>();
  route->tunnel = std::make_shared<Tunnel>();
  route->target = target;
  route->host = host;
  route->port = port;
  route->deadline = deadline;
  route->fd = UniqueFd(pair[1]);
  std::shared_ptr<Tunnel> tunnel = route->tunnel;
  {
    std::lock_guard lock(mutex_);
    if (!running_) {
      throw ProxyError(target, "cannot reach " + target + " through the proxy " + name() + ": " +
                                   last_failure_);
    }
    requests_.push_back(std::move(route));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_.get(), &one, sizeof one);

  switch (tunnel->wait(deadline, stop)) {
    case Tunnel::State::open:
      return Opened{std::move(ours), tunnel};
    case Tunnel::State::failed:
      throw ProxyError(target, *tunnel->failure());
    case Tunnel::State::opening:
      break;
  }
  if (stop.stop_requested()) return std::nullopt;
  throw Timeout(target, "opening a tunnel to " + host + " port " + std::to_string(port) +
                            " through the proxy " + name() + " timed out (timeout); check that " +
                            "the proxy can reach the host");
}

void ProxyHub::pump() {
  ssh_session ssh = session_->handle();
  EventPtr event(ssh_event_new());
  ssh_event_add_session(event.get(), ssh);
  std::vector<std::unique_ptr<Route>> routes;
  std::string lost;

  auto fail = [&](Route& r, const std::string& why) {
    r.tunnel->set_failed("the proxy " + name() + " " + why + " (" + r.host + " port " +
                         std::to_string(r.port) + ", for " + r.target + ")");
    return false;
  };
  // Opens the channel, then moves what it can; false when the route is over.
  // Reading one channel makes libssh decode packets for the others too, so
  // `moved` tells the caller to give every route another turn.
  auto advance = [&](Route& r, bool& moved) {
    if (!r.bridge) {
      int rc = ssh_channel_open_forward(r.channel.get(), r.host.c_str(), r.port, "127.0.0.1", 0);
      if (rc == SSH_AGAIN) {
        return Clock::now() < r.deadline || fail(r, "did not open a channel in time");
      }
      if (rc != SSH_OK) {
        return fail(r, std::string("could not open a connection: ") + ssh_get_error(ssh) +
                           "; check that the proxy reaches the host and allows TCP forwarding");
      }
      r.bridge.emplace(std::move(r.channel), std::move(r.fd));
      r.tunnel->set_open();
      moved = true;
    }
    switch (r.bridge->pump(moved)) {
      case ChannelBridge::Status::running:
        return true;
      case ChannelBridge::Status::channel_lost:
        return fail(r, "lost the channel");
      case ChannelBridge::Status::done:
        break;
    }
    return false;
  };

  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      for (auto& r : requests_) {
        r->channel.reset(ssh_channel_new(ssh));
        if (r->channel) routes.push_back(std::move(r));
        else fail(*r, "could not create a channel (out of memory)");
      }
      requests_.clear();
    }
    if (ssh_event_dopoll(event.get(), 0) == SSH_ERROR || ssh_is_connected(ssh) == 0) {
      lost = std::string("closed the connection: ") + ssh_get_error(ssh);
      break;
    }
    for (bool moved = true; moved;) {
      moved = false;
      std::erase_if(routes, [&](const std::unique_ptr<Route>& r) { return !advance(*r, moved); });
    }

    std::vector<pollfd> fds{{wake_fd_.get(), POLLIN, 0}, {ssh_get_fd(ssh), POLLIN, 0}};
    if ((ssh_get_poll_flags(ssh) & SSH_WRITE_PENDING) != 0) fds[1].events |= POLLOUT;
    auto wait = std::chrono::milliseconds(1000);
    for (const auto& r : routes) {
      if (r->bridge) {
        short events = r->bridge->socket_events();
        // A hung-up socket nobody reads would wake poll() at once, again and again.
        fds.push_back({events != 0 ? r->bridge->socket() : -1, events, 0});
      } else {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(r->deadline - Clock::now());
        wait = std::clamp(left, std::chrono::milliseconds(0), wait);
      }
    }
    ::poll(fds.data(), fds.size(), static_cast<int>(wait.count()));
    std::uint64_t count;
    [[maybe_unused]] auto n = ::read(wake_fd_.get(), &count, sizeof count);
  }

  std::lock_guard lock(mutex_);
  if (lost.empty()) lost = "was closed by the client";
  for (auto& r : requests_) routes.push_back(std::move(r));
  requests_.clear();
  for (auto& r : routes) fail(*r, lost);
  routes.clear();  // closes the channels and the targets' sockets
  last_failure_ = "the proxy " + lost;
  running_ = false;
}

}  // namespace pssh::detail
