// Host keys: accept_new records, strict refuses unknown, changed keys are
// refused with the file and line to fix.
#include "common.hpp"

namespace {

std::string public_key_of(const std::filesystem::path& key) {
  std::string line = rig::read_file(key.string() + ".pub");
  return line.substr(0, line.rfind(' '));  // "ssh-ed25519 AAAA..."
}

pssh::ClientOptions with_known_hosts(const rig::TempDir& dir, pssh::HostKeyPolicy policy) {
  auto options = server().options();
  options.known_hosts = (dir.path() / "sub" / "known_hosts").string();
  options.host_key_policy = policy;
  return options;
}

void run_true(const pssh::ClientOptions& options) {
  pssh::Client client("127.0.0.2", options);
  auto output = client.run_command("true");
  client.wait_finished(output);
}

}  // namespace

TEST_SUITE("hostkey") {
  TEST_CASE("accept_new records an unknown key, then accepts it") {
    rig::TempDir dir;
    auto options = with_known_hosts(dir, pssh::HostKeyPolicy::accept_new);
    run_true(options);
    std::string recorded = rig::read_file((*options.known_hosts));
    CHECK(recorded.find("[127.0.0.2]:" + std::to_string(server().port())) != std::string::npos);
    CHECK(recorded.find(public_key_of(server().host_key())) != std::string::npos);
    options.host_key_policy = pssh::HostKeyPolicy::strict;
    CHECK_NOTHROW(run_true(options));
  }

  TEST_CASE("strict refuses an unknown key") {
    rig::TempDir dir;
    auto options = with_known_hosts(dir, pssh::HostKeyPolicy::strict);
    options.global_known_hosts = "none";
    CHECK_THROWS_CONTAINING(run_true(options), pssh::HostKeyError,
                            "is not in " + (*options.known_hosts) + " and host_key_policy is strict");
  }

  TEST_CASE("GlobalKnownHostsFile: a host known only there is accepted under strict, an unknown one refused") {
    rig::TempDir dir;
    auto global = dir.path() / "ssh_known_hosts";
    std::string token = "[127.0.0.2]:" + std::to_string(server().port());
    rig::write_file(global, token + " " + public_key_of(server().host_key()) + "\n");
    auto options = with_known_hosts(dir, pssh::HostKeyPolicy::strict);
    // As an ssh config line, the way a system sets it.
    auto config = dir.path() / "config";
    rig::write_file(config, "Host *\n  GlobalKnownHostsFile " + global.string() + "\n");
    options.ssh_config = config.string();
    CHECK_NOTHROW(run_true(options));
    CHECK_FALSE(std::filesystem::exists(*options.known_hosts));  // read, never written
    // Another address is in neither file: refused, naming both.
    pssh::Client other("127.0.0.3", options);
    CHECK_THROWS_CONTAINING(other.wait_finished(other.run_command("true")), pssh::HostKeyError,
                            "is not in " + *options.known_hosts + " (nor in " + global.string() + ")");
    // The option itself, and "none".
    options.ssh_config = std::nullopt;
    options.global_known_hosts = global.string();
    CHECK_NOTHROW(run_true(options));
    options.global_known_hosts = "none";
    CHECK_THROWS_AS(run_true(options), pssh::HostKeyError);
  }

  TEST_CASE("a changed key is refused, naming the file and line; ignore accepts it") {
    rig::TempDir dir;
    auto other = dir.path() / "other_key";
    rig::run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other.string()});
    auto options = with_known_hosts(dir, pssh::HostKeyPolicy::accept_new);
    std::filesystem::create_directories(dir.path() / "sub");
    std::string token = "[127.0.0.2]:" + std::to_string(server().port());
    rig::write_file((*options.known_hosts),
                    "# comment\n[127.0.0.9]:22 " + public_key_of(other) + "\n" + token + " " +
                        public_key_of(other) + "\n");
    CHECK_THROWS_CONTAINING(run_true(options), pssh::HostKeyError,
                            (*options.known_hosts) + " line 3 holds another key");
    CHECK_THROWS_CONTAINING(run_true(options), pssh::HostKeyError,
                            "ssh-keygen -f '" + (*options.known_hosts) + "' -R '" + token + "'");
    options.host_key_policy = pssh::HostKeyPolicy::ignore;
    CHECK_NOTHROW(run_true(options));
  }

  TEST_CASE("a second sshd with another key on a known address is refused") {
    rig::TempDir dir;
    auto options = with_known_hosts(dir, pssh::HostKeyPolicy::accept_new);
    run_true(options);  // records the suite server's key for 127.0.0.2:port
    rig::Sshd impostor;
    options.port = impostor.port();
    // Copy the known entry onto the impostor's port, as if it were the same host.
    std::string known = rig::read_file((*options.known_hosts));
    std::string from = "[127.0.0.2]:" + std::to_string(server().port());
    std::string to = "[127.0.0.2]:" + std::to_string(impostor.port());
    known.replace(known.find(from), from.size(), to);
    rig::write_file((*options.known_hosts), known);
    CHECK_THROWS_CONTAINING(run_true(options), pssh::HostKeyError, "has changed");
  }
}
