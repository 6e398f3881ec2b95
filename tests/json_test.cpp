// JSON: options and inventories round-trip, errors name the key path,
// results carry every host's outcome.
#include "common.hpp"

#include <pssh/hosts.hpp>
#include <pssh/json.hpp>

#include <system_error>
#include <type_traits>

using namespace std::chrono_literals;
using nlohmann::json;

TEST_SUITE("json") {
  TEST_CASE("ClientOptions round-trip through JSON; in-memory keys are not written") {
    pssh::ClientOptions options;
    options.user = "deploy";
    options.port = 2222;
    options.pkey = pssh::PrivateKey::file("/keys/id", "phrase");
    options.timeout = 1500ms;
    options.pool_size = 7;
    options.proxy = pssh::ProxyConfig{.host = "bastion", .port = 22, .user = "ops", .password = {}, .pkey = {}};
    options.host_key_policy = pssh::HostKeyPolicy::strict;
    options.ssh_config = std::nullopt;
    json j = pssh::to_json(options);
    CHECK(j["timeout"] == 1.5);
    CHECK(j["pkey"]["passphrase"] == "phrase");
    CHECK(j["ssh_config"].is_null());
    auto back = pssh::client_options_from_json(j);
    CHECK(pssh::to_json(back) == j);
    CHECK(back.proxy->user == "ops");
    CHECK_FALSE(back.ssh_config.has_value());

    options.pkey = pssh::PrivateKey::memory("-----BEGIN OPENSSH PRIVATE KEY-----secret");
    CHECK(pssh::to_json(options).dump().find("secret") == std::string::npos);
  }

  TEST_CASE("an inventory expands ranges and entries, and saves back") {
    json j = json::parse(R"({
      "defaults": {"user": "deploy", "timeout": 5, "pool_size": 50},
      "hosts": ["web[01-02]", "ops@db2:2222", {"host": "db1", "port": 2200, "alias": "db"}]
    })");
    auto inventory = pssh::inventory_from_json(j);
    CHECK(inventory.defaults.user == "deploy");
    CHECK(inventory.defaults.timeout == 5s);
    CHECK(inventory.hosts == std::vector<std::string>{"web01", "web02", "db2", "db1"});
    REQUIRE(inventory.host_config.size() == 4);
    CHECK(inventory.host_config[2].user == "ops");
    CHECK(inventory.host_config[2].port == 2222);
    CHECK(inventory.host_config[3].alias == "db");
    auto again = pssh::inventory_from_json(pssh::to_json(inventory));
    CHECK(again.hosts == inventory.hosts);
    CHECK(again.host_config[3].port == 2200);
  }

  TEST_CASE("bad inventories are errors naming the key path") {
    auto error_of = [](const char* text) {
      try {
        pssh::inventory_from_json(json::parse(text));
      } catch (const pssh::JsonError& e) {
        return std::string(e.what());
      }
      return std::string("no error");
    };
    CHECK(error_of(R"({"hosts": ["a", "b", "c", {"host": "d", "port": "22"}]})") ==
          "hosts[3].port: expected an integer");
    CHECK(error_of(R"({"hosts": [{"host": "d", "prot": 22}]})") == "hosts[0].prot: unknown key");
    CHECK(error_of(R"({"defaults": {"timeout": "10s"}, "hosts": []})") ==
          "defaults.timeout: expected a number of seconds");
    CHECK(error_of(R"({"defaults": {"proxy": {"port": 22}}, "hosts": []})") ==
          "defaults.proxy.host: expected the proxy's host name");
    CHECK(error_of(R"({"hosts": ["web[3-1]"]})").rfind("hosts[0]: host range", 0) == 0);
    CHECK(error_of(R"({"hostz": []})") == "hostz: unknown key");
    CHECK(error_of(R"([1, 2])") == "(top): expected an object");
    rig::TempDir dir;
    rig::write_file(dir.path() / "bad.json", "{not json");
    CHECK_THROWS_CONTAINING(pssh::load_inventory((dir.path() / "bad.json").string()), pssh::JsonError,
                            "bad.json: not valid JSON");
  }

  TEST_CASE("to_json(output) gives each host's exit code, signal, output and error") {
    auto options = server().options();
    pssh::ParallelClient client({"127.0.0.2", "127.0.0.3"}, options,
                                {{.alias = "good"}, {.port = rig::refused_port()}});
    auto output = client.run_command("printf 'ok\\n\\377\\n'; echo e >&2; exit 4", {.stop_on_errors = false});
    client.join(output);
    json j = pssh::to_json(output);
    REQUIRE(j.size() == 2);
    CHECK(j[0]["alias"] == "good");
    CHECK(j[0]["exit_code"] == 4);
    CHECK(j[0]["stdout"] == "ok\n\xEF\xBF\xBD\n");
    CHECK(j[0]["stderr"] == "e\n");
    CHECK(j[0]["error"].is_null());
    CHECK(j[1]["exit_code"].is_null());
    CHECK(j[1]["error_type"] == "ConnectionError");
    CHECK(j[1]["error"].get<std::string>().find("cannot connect") != std::string::npos);
    CHECK_NOTHROW(j.dump());
  }

  TEST_CASE("every error has its kind, and JSON's name for it reads back") {
    auto kind_of = [](auto error) { return pssh::error_kind(std::make_exception_ptr(error)); };
    CHECK(pssh::error_kind(nullptr) == pssh::ErrorKind::none);
    CHECK(kind_of(pssh::Error("h", "m")) == pssh::ErrorKind::error);
    CHECK(kind_of(pssh::ConnectionError("h", "m")) == pssh::ErrorKind::connection);
    CHECK(kind_of(pssh::NoIPv6AddressFoundError("h", "m")) == pssh::ErrorKind::no_ipv6_address);
    CHECK(kind_of(pssh::SudoError("h", "m")) == pssh::ErrorKind::sudo);
    CHECK(kind_of(pssh::SFTPIOError("h", "m")) == pssh::ErrorKind::sftp_io);
    CHECK(kind_of(pssh::JsonError("m")) == pssh::ErrorKind::json);
    CHECK(kind_of(pssh::JoinTimeout("m", {}, {})) == pssh::ErrorKind::join_timeout);
    CHECK(kind_of(std::system_error(std::make_error_code(std::errc::io_error))) == pssh::ErrorKind::system);
    CHECK(kind_of(std::out_of_range("m")) == pssh::ErrorKind::other);
    // A run's JoinTimeout is no host Timeout; configuration errors are pssh::Errors.
    CHECK_FALSE(std::is_base_of_v<pssh::Timeout, pssh::JoinTimeout>);
    CHECK(std::is_base_of_v<pssh::ConfigError, pssh::JsonError>);
    CHECK_THROWS_AS(pssh::expand_hosts("h[5-1]"), pssh::ConfigError);
    CHECK_THROWS_AS(pssh::client_options_from_json(json{{"port", "x"}}), pssh::JsonError);
    for (int k = static_cast<int>(pssh::ErrorKind::none); k <= static_cast<int>(pssh::ErrorKind::other); ++k) {
      auto kind = static_cast<pssh::ErrorKind>(k);
      INFO("kind " << k << ": " << pssh::error_kind_name(kind));
      CHECK(pssh::error_kind_named(pssh::error_kind_name(kind)) == kind);
      if (kind != pssh::ErrorKind::none) CHECK_FALSE(pssh::error_kind_name(kind).empty());
    }
    CHECK_FALSE(pssh::error_kind_named("NoSuchError"));
  }
}
