// The descriptor limit a client needs: every connected host holds a few.
#pragma once

#include <cstddef>

namespace pssh::detail {

/// Descriptors a host holds while connected and running: its socket,
/// libssh's duplicate of it, the run's wake-up eventfd. Hosts stay
/// connected between runs, so this is per host, not per worker.
inline constexpr std::size_t descriptors_per_host = 3;

/// Makes RLIMIT_NOFILE's soft limit cover `hosts` more hosts on top of the
/// descriptors open now. It is often 1024 under a far higher hard limit, for
/// select()'s sake, and children inherit it: it is raised only when and as
/// far as needed (with room for an agent connection and its duplicate per
/// host), never above the hard limit, never lowered. std::system_error
/// (EMFILE) naming the limit and the fix if even the hard limit is too low.
void reserve_descriptors(std::size_t hosts);

}  // namespace pssh::detail
