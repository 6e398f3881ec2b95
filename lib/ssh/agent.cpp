#include "ssh/agent_keys.hpp"
#include "ssh/keys.hpp"

#include <mutex>

namespace pssh {

struct Agent::Impl {
  std::mutex adding;       // one add_key at a time: guards `cache`
  detail::KeyCache cache;  // a key added twice is parsed once
  mutable std::mutex mutex;  // guards `keys`, which logins read
  std::vector<detail::ProgramKey> keys;
};

Agent::Agent() : impl_(std::make_unique<Impl>()) {}
Agent::~Agent() = default;

void Agent::add_key(const PrivateKey& key) {
  // Parsed outside the keys' lock (an encrypted key may take a while), so
  // that logins reading the keys meanwhile do not wait for it.
  std::lock_guard adding(impl_->adding);
  std::string name = detail::key_name(key, "in-memory key #" + std::to_string(size() + 1));
  std::shared_ptr<const detail::LoadedKey> loaded;
  try {
    loaded = impl_->cache.load(key, name, "the agent");
  } catch (const PKeyFileError& e) {
    throw PKeyFileError("", e.what());  // no host's error: the message names the agent
  }
  std::string label = "agent key " + name;
  if (key.has_certificate()) label += " with certificate " + detail::certificate_name(key);
  std::lock_guard lock(impl_->mutex);
  impl_->keys.push_back({std::move(loaded), std::move(label), key.in_memory() ? "" : key.path()});
}

std::size_t Agent::size() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->keys.size();
}

std::vector<detail::ProgramKey> AgentKeys::of(const Agent& agent) {
  std::lock_guard lock(agent.impl_->mutex);
  return agent.impl_->keys;
}

}  // namespace pssh
