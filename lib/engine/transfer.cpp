// Transfer: the caller's view of one host's file copy.
#include "engine/host_state.hpp"

#include <pssh/transfer.hpp>

namespace pssh {

Transfer::Transfer(std::shared_ptr<HostState> state) : state_(std::move(state)) {}

const std::string& Transfer::host() const { return state_->host; }
const std::string& Transfer::alias() const { return state_->alias; }
std::size_t Transfer::index() const { return state_->index; }
bool Transfer::finished() const { return state_->finished(); }
void Transfer::wait() const { state_->wait_finished_until(std::nullopt); }
std::exception_ptr Transfer::exception() const { return state_->error(); }

void join(const std::vector<Transfer>& transfers) {
  for (const Transfer& t : transfers) t.wait();
  for (const Transfer& t : transfers)
    if (auto error = t.exception()) std::rethrow_exception(error);
}

}  // namespace pssh
