// Client: the parallel engine with one host.
#include "text/text.hpp"

#include <pssh/client.hpp>

namespace pssh {

Client::Client(std::string host, ClientOptions options, HostConfig host_config)
    : client_({std::move(host)}, [&] {
        options.pool_size = 1;
        return std::move(options);
      }(), {std::move(host_config)}) {}

HostOutput Client::run_command(const std::string& command, RunOptions options) {
  options.host_args.resize(std::min<std::size_t>(options.host_args.size(), 1));
  return client_.run_command(command, options).front();
}

void Client::wait_finished(const HostOutput& output, std::optional<duration> timeout) {
  try {
    client_.join({output}, {.join_timeout = timeout});
  } catch (const JoinTimeout&) {
    throw Timeout(output.host(), "command on " + output.host() + " did not finish within " +
                                     detail::duration_text(*timeout) +
                                     "; wait again, or cancel() it");
  }
}

Shell Client::open_shell(const ShellOptions& options) {
  return std::move(client_.open_shell(options).front());
}

void Client::copy_file(const std::string& local, const std::string& remote,
                       const CopyOptions& options) {
  join(client_.copy_file(local, remote, options));
}

void Client::copy_remote_file(const std::string& remote, const std::string& local,
                              CopyOptions options) {
  options.suffix_separator.reset();
  join(client_.copy_remote_file(remote, local, options));
}

void Client::scp_send(const std::string& local, const std::string& remote,
                      const CopyOptions& options) {
  join(client_.scp_send(local, remote, options));
}

void Client::scp_recv(const std::string& remote, const std::string& local, CopyOptions options) {
  options.suffix_separator.reset();
  join(client_.scp_recv(remote, local, options));
}

}  // namespace pssh
