#include "interrupts.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <system_error>

namespace cli {

Interrupts::Interrupts() : stop_(::eventfd(0, EFD_CLOEXEC)) {
  sigemptyset(&signals_);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction current {};
    if (::sigaction(signal, nullptr, &current) == 0 && current.sa_handler != SIG_IGN) sigaddset(&signals_, signal);
  }
  ::pthread_sigmask(SIG_BLOCK, &signals_, &before_);
  signal_fd_.reset(::signalfd(-1, &signals_, SFD_CLOEXEC));
  if (!signal_fd_ || !stop_) throw std::system_error(errno, std::generic_category(), "cannot watch for Ctrl-C");
  waiter_ = std::thread([this] { wait(); });
}

Interrupts::~Interrupts() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_.get(), &one, sizeof one);  // the run is over
  waiter_.join();
  ::pthread_sigmask(SIG_SETMASK, &before_, nullptr);
}

void Interrupts::route_to(pssh::ParallelClient* client, std::function<void()> also) {
  std::lock_guard lock(mutex_);
  client_ = client;
  also_ = std::move(also);
}

void Interrupts::wait() {
  for (;;) {
    pollfd fds[2] = {{signal_fd_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;  // EINTR
    if (fds[1].revents != 0) return;
    signalfd_siginfo info{};
    if (::read(signal_fd_.get(), &info, sizeof info) != sizeof info) continue;
    int signal = static_cast<int>(info.ssi_signo);
    std::lock_guard lock(mutex_);
    if (client_ == nullptr || interrupted_) {
      std::signal(signal, SIG_DFL);
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, signal);
      ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
      ::raise(signal);
      continue;
    }
    interrupted_ = true;
    client_->cancel();
    if (also_) also_();
  }
}

}  // namespace cli
