// getaddrinfo under a deadline, a poll()-bounded non-blocking connect, and
// the local agent's socket.
#include "net/socket.hpp"

#include <pssh/errors.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace pssh::detail {

void keep_alive(int fd, duration interval) {
  if (interval <= duration::zero()) return;
  int on = 1, count = 3;
  int seconds = static_cast<int>(std::max<long long>(
      1, std::chrono::duration_cast<std::chrono::seconds>(interval).count()));
  unsigned int user_timeout = static_cast<unsigned int>(interval.count() * 4);
  // Best effort: a socket that refuses an option still works without it.
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &seconds, sizeof seconds);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &seconds, sizeof seconds);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
}

namespace {

std::vector<Address> lookup(const std::string& label, const std::string& hostname, int port,
                            bool ipv6_only) {
  addrinfo hints{};
  hints.ai_family = ipv6_only ? AF_INET6 : AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(hostname.c_str(), service.c_str(), &hints, &found);
  if (rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_FAMILY || rc == EAI_ADDRFAMILY) {
    if (ipv6_only) {
      // Tell "no such name" apart from "no IPv6 address for it".
      hints.ai_family = AF_UNSPEC;
      addrinfo* any = nullptr;
      if (::getaddrinfo(hostname.c_str(), service.c_str(), &hints, &any) == 0) {
        ::freeaddrinfo(any);
        throw NoIPv6AddressFoundError(
            label, "cannot connect to " + label + ": ipv6_only is set and " + hostname +
                       " has no IPv6 address; unset ipv6_only or use an IPv6 name");
      }
    }
  }
  if (rc != 0) {
    throw UnknownHostError(label, "cannot resolve host name " + hostname + " (for " + label +
                                      "): " + ::gai_strerror(rc) + "; check the name and DNS");
  }
  std::vector<Address> addresses;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = ai->ai_addrlen;
    a.family = ai->ai_family;
    char text[NI_MAXHOST] = {};
    ::getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST);
    a.text = text;
    addresses.push_back(std::move(a));
  }
  ::freeaddrinfo(found);
  return addresses;
}

bool is_address_literal(const std::string& hostname) {
  in6_addr ignored;
  return ::inet_pton(AF_INET, hostname.c_str(), &ignored) == 1 ||
         ::inet_pton(AF_INET6, hostname.c_str(), &ignored) == 1;
}

}  // namespace

std::vector<Address> resolve(const std::string& label, const std::string& hostname, int port,
                             bool ipv6_only, Clock::time_point deadline, std::stop_token stop) {
  if (is_address_literal(hostname)) return lookup(label, hostname, port, ipv6_only);
  // getaddrinfo waits as long as resolv.conf says, and nothing interrupts it:
  // it runs on a thread of its own, which is left to finish alone if this
  // host's deadline or a stop comes first.
  struct Lookup {
    std::mutex mutex;
    std::condition_variable_any done;
    std::optional<std::vector<Address>> addresses;
    std::exception_ptr error;
  };
  auto shared = std::make_shared<Lookup>();
  std::thread([=] {
    std::vector<Address> found;
    std::exception_ptr error;
    try {
      found = lookup(label, hostname, port, ipv6_only);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(shared->mutex);
      shared->addresses = std::move(found);
      shared->error = error;
    }
    shared->done.notify_all();
  }).detach();
  std::unique_lock lock(shared->mutex);
  if (!shared->done.wait_until(lock, stop, deadline, [&] { return shared->addresses.has_value(); })) {
    if (stop.stop_requested()) return {};
    throw Timeout(label, "cannot resolve host name " + hostname + " (for " + label +
                             "): the DNS server did not answer in time (timeout); check DNS "
                             "or raise the timeout");
  }
  if (shared->error) std::rethrow_exception(shared->error);
  return std::move(*shared->addresses);
}

UniqueFd start_connect(const Address& address, int& error) {
  UniqueFd fd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    error = errno;
    return fd;
  }
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) ==
          0 ||
      errno == EINPROGRESS) {
    error = 0;
  } else {
    error = errno;
  }
  return fd;
}

int finish_connect(int fd, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return ETIMEDOUT;
    pollfd p{fd, POLLOUT, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left.count()) + 1);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return errno;
    if (rc == 0) continue;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
    if (error == 0 && (p.revents & (POLLHUP | POLLERR)) != 0) return ECONNABORTED;
    if (error != 0) return error;
    // libssh drives the socket in blocking mode.
    int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return 0;
  }
}

UniqueFd connect_local_agent(const std::optional<std::string>& path) {
  sockaddr_un address{};
  if (!path || path->size() >= sizeof address.sun_path) return {};
  address.sun_family = AF_UNIX;
  std::strcpy(address.sun_path, path->c_str());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return {};
  return fd;
}

}  // namespace pssh::detail
