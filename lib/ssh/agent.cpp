#include "ssh/agent_keys.hpp"
#include "ssh/keys.hpp"

#include <mutex>

namespace pssh {

struct Agent::Impl {
  mutable std::mutex mutex;
  detail::KeyCache cache;  // a key added twice is parsed once
  std::vector<detail::ProgramKey> keys;
};

Agent::Agent() : impl_(std::make_unique<Impl>()) {}
Agent::~Agent() = default;

void Agent::add_key(const PrivateKey& key) {
  std::lock_guard lock(impl_->mutex);
  std::string name = detail::key_name(key, "in-memory key #" + std::to_string(impl_->keys.size() + 1));
  std::shared_ptr<const detail::LoadedKey> loaded;
  try {
    loaded = impl_->cache.load(key, name, "the agent");
  } catch (const PKeyFileError& e) {
    throw PKeyFileError("", e.what());  // no host's error: the message names the agent
  }
  std::string label = "agent key " + name;
  if (key.has_certificate()) label += " with certificate " + detail::certificate_name(key);
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
