// The one clock of every deadline: steady, never set back.
#pragma once

#include <chrono>

namespace pssh::detail {

using Clock = std::chrono::steady_clock;

/// How often a worker blocked on something the watchdog cannot cut (a lock,
/// a semaphore, a resolver thread) looks at its deadline and at cancel.
inline constexpr auto wait_slice = std::chrono::milliseconds(50);

}  // namespace pssh::detail
