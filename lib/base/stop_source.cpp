// First request wins; the hook runs under the lock, so that a hook being
// destroyed is never running.
#include "base/stop_source.hpp"

#include <utility>

namespace pssh::detail {

bool StopSource::request(StopReason reason) {
  std::lock_guard lock(mutex_);
  if (reason_ != StopReason::none) return false;
  reason_ = reason;
  if (hook_) std::exchange(hook_, nullptr)(reason);
  return true;
}

StopReason StopSource::reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

StopSource::Hook::Hook(StopSource& source, std::function<void(StopReason)> action)
    : source_(source) {
  std::lock_guard lock(source_.mutex_);
  if (source_.reason_ != StopReason::none) action(source_.reason_);
  else source_.hook_ = std::move(action);
}

StopSource::Hook::~Hook() {
  std::lock_guard lock(source_.mutex_);
  source_.hook_ = nullptr;
}

}  // namespace pssh::detail
