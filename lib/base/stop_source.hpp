// The one stop of a host's run. cancel(), a command's timeout and
// close_channel() all come here; everything below sees a std::stop_token
// (a wait ends on it) and, where an error must say why, this source's reason.
#pragma once

#include <atomic>
#include <stop_token>

namespace pssh::detail {

/// Why a host's work was asked to stop.
enum class StopReason { none, closed_by_caller, timeout, cancelled };

class StopSource {
 public:
  /// Records `reason` and requests the stop: the callbacks registered on
  /// token() run now, on this thread. The first request wins; later ones
  /// change nothing. True if this one was first.
  bool request(StopReason reason) noexcept {
    StopReason none = StopReason::none;
    if (!reason_.compare_exchange_strong(none, reason)) return false;
    source_.request_stop();
    return true;
  }
  /// The first request's reason, or none. It is recorded before the
  /// callbacks run: a callback that reads it sees it.
  StopReason reason() const noexcept { return reason_.load(); }
  std::stop_token token() const noexcept { return source_.get_token(); }

 private:
  std::atomic<StopReason> reason_{StopReason::none};
  std::stop_source source_;
};

}  // namespace pssh::detail
