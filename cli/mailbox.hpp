// Items that other threads (the client's workers, a command's helper
// threads) hand to the main thread, which sleeps until one comes.
#pragma once

#include <pssh/event.hpp>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

namespace cli {

template <class Item>
class Mailbox {
 public:
  /// Room for `capacity` items: put() then never allocates, so it cannot
  /// throw on a worker (the library would drop the exception, and the item).
  explicit Mailbox(std::size_t capacity) { items_.reserve(capacity); }
  void put(Item item) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    arrived_.notify_one();
  }
  /// The oldest item not taken yet; waits for one.
  Item next() {
    std::unique_lock lock(mutex_);
    arrived_.wait(lock, [&] { return taken_ < items_.size(); });
    return items_[taken_++];
  }
  /// Empty again, for another round of the same size.
  void clear() {
    std::lock_guard lock(mutex_);
    items_.clear();
    taken_ = 0;
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<Item> items_;
  std::size_t taken_ = 0;
};

/// ClientOptions::on_event that puts each host's index in `ends` as its work
/// ends (finished or failed): the hosts in the order they finish.
inline std::function<void(const pssh::Event&)> host_ends(Mailbox<std::size_t>& ends) {
  return [&ends](const pssh::Event& event) {
    if (event.kind == pssh::Event::Kind::finished || event.kind == pssh::Event::Kind::failed) ends.put(event.index);
  };
}

}  // namespace cli
