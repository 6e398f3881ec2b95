// The one clock of every deadline: steady, never set back.
#pragma once

#include <chrono>

namespace pssh::detail {

using Clock = std::chrono::steady_clock;

}  // namespace pssh::detail
