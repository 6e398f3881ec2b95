// Proxy (bastion) tunnels: one SSH session to the proxy carries a
// direct-tcpip channel per target host. Each target's own session runs over
// one end of a socketpair; the proxy's thread bridges the other end to the
// channel. No external process, and one proxy connection for all its hosts.
#pragma once

#include "base/stop_source.hpp"
#include "base/unique_fd.hpp"
#include "base/watchdog.hpp"
#include "config/settings.hpp"
#include "ssh/handles.hpp"

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

namespace pssh::detail {

class Session;

/// One target's end of a tunnel, shared with the proxy's thread: whether the
/// channel opened, and why the tunnel broke if it did.
class Tunnel {
 public:
  enum class State { opening, open, failed };
  void set_open();
  void set_failed(std::string reason);
  /// Waits until the channel opens or fails, `until` passes or `stop` is
  /// requested; returns the state then.
  State wait(Clock::time_point until, std::stop_token stop);
  /// Why the tunnel failed (the proxy refused, dropped or lost it); empty while it works.
  std::optional<std::string> failure() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  State state_ = State::opening;
  std::string reason_;
};

class ProxyHub {
 public:
  /// `proxy` are the proxy's own settings; `via`, if set, is the next hop
  /// towards it.
  ProxyHub(HostSettings proxy, std::shared_ptr<ProxyHub> via, Watchdog& watchdog);
  ~ProxyHub();
  ProxyHub(const ProxyHub&) = delete;
  ProxyHub& operator=(const ProxyHub&) = delete;

  struct Opened {
    UniqueFd fd;  ///< speaks to host:port through the proxy
    std::shared_ptr<Tunnel> tunnel;
  };
  /// Connects to the proxy if needed (once for all its hosts), then opens a
  /// direct-tcpip channel to `host`:`port` for `target`. ProxyError if the
  /// proxy cannot be reached or refuses; Timeout at `deadline`; nullopt if
  /// `stop` is requested while waiting.
  std::optional<Opened> open(const std::string& target, const std::string& host, int port,
                             Clock::time_point deadline, std::stop_token stop);

  /// Cuts a connection to the proxy that is still being made (and to the hops
  /// before it): the hosts waiting for it see Cancelled. For cancel(), whose
  /// grace time a blocked handshake would otherwise outlast.
  void cancel_connect();

  /// "user@proxy:port", for messages.
  std::string name() const { return proxy_.destination(); }

 private:
  struct Route;
  bool connect(const std::string& target, Clock::time_point deadline, std::stop_token stop);
  void pump();
  void stop_pump();

  HostSettings proxy_;
  std::shared_ptr<ProxyHub> via_;
  Watchdog& watchdog_;
  std::unique_ptr<StopSource> session_stop_;  // the stop session_ serves: outlives it
  std::unique_ptr<Session> session_;
  std::thread thread_;
  UniqueFd wake_fd_;

  std::mutex mutex_;  // guards what follows
  bool stopping_ = false, running_ = false;
  // The proxy session while one worker connects it, and the stop that
  // cancel_connect() requests; the other workers wait for connect_done_.
  Session* connecting_ = nullptr;
  StopSource* connecting_stop_ = nullptr;
  std::condition_variable_any connect_done_;
  std::vector<std::unique_ptr<Route>> requests_;
  std::string last_failure_;
};

}  // namespace pssh::detail
