// call, copy and slurp: a ParallelClient for one piece of work.
#include <pssh/call.hpp>

#include <filesystem>

namespace pssh {
namespace {

std::string text_of(LineRange lines) {
  std::string text;
  for (const std::string& line : lines) text += line + '\n';
  return text;
}

CallResults transfer_results(const std::vector<Transfer>& transfers) {
  CallResults results;
  for (const Transfer& t : transfers) {
    t.wait();
    results.push_back({.host = t.alias(), .index = t.index(), .error = t.exception()});
  }
  return results;
}

}  // namespace

std::string CallResult::error_message() const { return pssh::error_message(error); }

CallResults call(const std::vector<std::string>& hosts, const std::string& command,
                 const ClientOptions& options, RunOptions run,
                 const std::vector<HostConfig>& host_config) {
  ClientOptions unbounded = options;
  unbounded.max_buffered_output = 0;  // join() must not wait for a reader
  ParallelClient client(hosts, unbounded, host_config);
  run.stop_on_errors = false;
  Output output = client.run_command(command, run);
  client.join(output);
  CallResults results;
  for (const HostOutput& h : output) {
    results.push_back({.host = h.alias(),
                       .index = h.index(),
                       .exit_code = h.exit_code(),
                       .out = text_of(h.stdout_lines()),
                       .err = text_of(h.stderr_lines()),
                       .error = h.exception()});
  }
  return results;
}

CallResults copy(const std::vector<std::string>& hosts, const std::string& local,
                 const std::string& remote, const ClientOptions& options,
                 const CopyOptions& copy_options, const std::vector<HostConfig>& host_config) {
  ParallelClient client(hosts, options, host_config);
  return transfer_results(client.copy_file(local, remote, copy_options));
}

CallResults slurp(const std::vector<std::string>& hosts, const std::string& remote,
                  const std::string& local_dir, const ClientOptions& options,
                  const CopyOptions& copy_options, const std::vector<HostConfig>& host_config) {
  namespace fs = std::filesystem;
  std::string name = fs::path(remote).filename().string();
  if (name.empty()) name = fs::path(remote).parent_path().filename().string();
  CopyOptions per_host = copy_options;
  per_host.copy_args.clear();
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    std::string folder = host_config.size() > i && host_config[i].alias ? *host_config[i].alias
                                                                       : hosts[i];
    fs::create_directories(fs::path(local_dir) / folder);
    per_host.copy_args.push_back({{"dir", (fs::path(local_dir) / folder).string()}});
  }
  ParallelClient client(hosts, options, host_config);
  return transfer_results(
      client.copy_remote_file(literal_template(remote), "{dir}/" + literal_template(name), per_host));
}

}  // namespace pssh
