// A consumer of pssh: expands a host range and calls a host that refuses
// connections, so it runs anywhere and shows a per-host error, not a throw.
#include <pssh/pssh.hpp>

#include <iostream>

int main() {
  for (const auto& host : pssh::expand_hosts("web[01-03].example.com")) std::cout << host << '\n';
  pssh::ClientOptions options;
  options.port = 1;  // nothing listens there
  options.num_retries = 0;
  options.ssh_config = std::nullopt;
  auto results = pssh::call({"127.0.0.1"}, "true", options);
  const pssh::CallResult& result = results.at(0);
  std::cout << result.host << ": " << (result.error ? result.error_message() : "ok") << '\n';
  return result.error ? 0 : 1;  // the refusal must arrive as this host's error
}
