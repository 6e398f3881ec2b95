// What the login reads of a program's Agent: its parsed keys.
#pragma once

#include "config/settings.hpp"

#include <pssh/agent.hpp>

#include <vector>

namespace pssh {

/// The library's side of Agent (its friend).
class AgentKeys {
 public:
  /// The keys added so far, in order; a copy, so that keys added meanwhile
  /// wait for the next login.
  static std::vector<detail::ProgramKey> of(const Agent& agent);
};

}  // namespace pssh
