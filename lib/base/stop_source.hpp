// The one stop of a host's run. cancel(), a command's timeout and
// close_channel() all come here; the worker registers, for as long as it
// works, the hook that makes its blocking step return (cut the connection).
#pragma once

#include <functional>
#include <mutex>

namespace pssh::detail {

/// Why a host's work was asked to stop.
enum class StopReason { none, closed_by_caller, timeout, cancelled };

class StopSource {
 public:
  /// Records `reason` and runs the hook, unless a stop was requested before:
  /// the first request wins and later ones change nothing. True if first.
  bool request(StopReason reason);
  StopReason reason() const;

  /// What a stop does to the work in progress, registered while it lasts.
  /// Runs at once if a stop came before, so that no stop is lost between a
  /// check and the registration; runs at most once. Destroying the hook
  /// waits for a run in progress.
  class Hook {
   public:
    Hook(StopSource& source, std::function<void(StopReason)> action);
    ~Hook();
    Hook(const Hook&) = delete;
    Hook& operator=(const Hook&) = delete;

   private:
    StopSource& source_;
  };

 private:
  mutable std::mutex mutex_;  // held while the hook runs
  StopReason reason_ = StopReason::none;
  std::function<void(StopReason)> hook_;
};

}  // namespace pssh::detail
