// JSON mapping: one field list per struct, walked by a reader (with key
// paths in errors and unknown keys refused) and by a writer.
#include "config/host_options.hpp"

#include <pssh/env.hpp>
#include <pssh/hosts.hpp>
#include <pssh/json.hpp>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace pssh {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw JsonError(path + ": " + what);
}

// --- values -----------------------------------------------------------------

void read_value(const json& j, const std::string& path, std::string& out) {
  if (!j.is_string()) fail(path, "expected a string");
  out = j.get<std::string>();
}

void read_value(const json& j, const std::string& path, bool& out) {
  if (!j.is_boolean()) fail(path, "expected true or false");
  out = j.get<bool>();
}

void read_value(const json& j, const std::string& path, int& out) {
  if (!j.is_number_integer()) fail(path, "expected an integer");
  out = j.get<int>();
}

void read_value(const json& j, const std::string& path, std::size_t& out) {
  if (!j.is_number_integer() || j.get<long long>() < 0) fail(path, "expected a non-negative integer");
  out = j.get<std::size_t>();
}

void read_value(const json& j, const std::string& path, duration& out) {
  if (!j.is_number() || j.get<double>() < 0 || !std::isfinite(j.get<double>()))
    fail(path, "expected a number of seconds");
  out = std::chrono::duration_cast<duration>(std::chrono::duration<double>(j.get<double>()));
}

void read_value(const json& j, const std::string& path, HostKeyPolicy& out) {
  std::string text;
  read_value(j, path, text);
  if (text == "strict") out = HostKeyPolicy::strict;
  else if (text == "accept_new") out = HostKeyPolicy::accept_new;
  else if (text == "ignore") out = HostKeyPolicy::ignore;
  else fail(path, "expected \"strict\", \"accept_new\" or \"ignore\"");
}

void read_value(const json& j, const std::string& path, PrivateKey& out);
void read_value(const json& j, const std::string& path, ProxyConfig& out);

void read_value(const json& j, const std::string& path, std::vector<PrivateKey>& out) {
  if (!j.is_array()) fail(path, "expected a list of private keys");
  out.clear();
  for (std::size_t i = 0; i < j.size(); ++i) {
    PrivateKey key = PrivateKey::file("");  // it has no empty state
    read_value(j[i], path + "[" + std::to_string(i) + "]", key);
    out.push_back(std::move(key));
  }
}

/// Optional fields: absent keeps the default, null clears it.
template <class T>
void read_value(const json& j, const std::string& path, std::optional<T>& out) {
  if (j.is_null()) {
    out.reset();
    return;
  }
  if constexpr (std::is_same_v<T, PrivateKey>) {
    PrivateKey value = PrivateKey::file("");  // it has no empty state
    read_value(j, path, value);
    out = std::move(value);
  } else {
    T value{};
    read_value(j, path, value);
    out = std::move(value);
  }
}

json write_value(const std::string& v) { return v; }
json write_value(bool v) { return v; }
json write_value(int v) { return v; }
json write_value(std::size_t v) { return v; }
json write_value(duration v) { return std::chrono::duration<double>(v).count(); }
json write_value(HostKeyPolicy v) {
  switch (v) {
    case HostKeyPolicy::strict: return "strict";
    case HostKeyPolicy::ignore: return "ignore";
    case HostKeyPolicy::accept_new: break;
  }
  return "accept_new";
}
json write_value(const PrivateKey& key) {
  if (key.passphrase().empty() && key.certificate_file().empty()) return key.path();
  json j{{"file", key.path()}};
  if (!key.passphrase().empty()) j["passphrase"] = key.passphrase();
  if (!key.certificate_file().empty()) j["certificate_file"] = key.certificate_file();
  return j;
}
/// Key material held in memory stays there: such keys are left out.
json write_value(const std::vector<PrivateKey>& keys) {
  json list = json::array();
  for (const PrivateKey& key : keys)
    if (!key.in_memory()) list.push_back(write_value(key));
  return list;
}
json write_value(const ProxyConfig& proxy);

// --- field lists --------------------------------------------------------------

/// Reads an object's fields; `done()` refuses keys no field took.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j.is_object()) fail(path_.empty() ? "(top)" : path_, "expected an object");
  }
  template <class T>
  void operator()(const char* key, T& field) {
    known_.insert(key);
    auto found = j_.find(key);
    if (found != j_.end()) read_value(*found, path_ + (path_.empty() ? "" : ".") + key, field);
  }
  void skip(const char* key) { known_.insert(key); }
  void done() const {
    for (const auto& item : j_.items())
      if (known_.count(item.key()) == 0) fail(path_ + (path_.empty() ? "" : ".") + item.key(), "unknown key");
  }

 private:
  const json& j_;
  std::string path_;
  std::set<std::string> known_;
};

class Writer {
 public:
  template <class T>
  void operator()(const char* key, const T& field) {
    j[key] = write_value(field);
  }
  template <class T>
  void operator()(const char* key, const std::optional<T>& field) {
    if (field) j[key] = write_value(*field);
  }
  /// Key material held in memory stays there.
  void operator()(const char* key, const std::optional<PrivateKey>& field) {
    if (field && !field->in_memory()) j[key] = write_value(*field);
  }
  void operator()(const char* key, const std::vector<PrivateKey>& field) {
    if (!field.empty()) j[key] = write_value(field);
  }
  json j = json::object();
};

template <class Visit, class Proxy>
void proxy_fields(Visit& v, Proxy& p) {
  v("host", p.host);
  v("port", p.port);
  v("user", p.user);
  v("password", p.password);
  v("pkey", p.pkey);
}

template <class Visit, class Options>
void client_fields(Visit& v, Options& o) {
  detail::visit_host_options(v, o);
  v("pool_size", o.pool_size);
  v("ssh_config", o.ssh_config);
  v("system_ssh_config", o.system_ssh_config);
  v("max_buffered_output", o.max_buffered_output);
}

template <class Visit, class Config>
void host_fields(Visit& v, Config& c) {
  v("alias", c.alias);
  detail::visit_host_options(v, c);
}

void read_value(const json& j, const std::string& path, PrivateKey& out) {
  if (j.is_string()) {
    out = PrivateKey::file(j.get<std::string>());
    return;
  }
  std::string file, pem, passphrase, certificate_file;
  Reader r(j, path);
  r("file", file);
  r("pem", pem);
  r("passphrase", passphrase);
  r("certificate_file", certificate_file);
  r.done();
  if (file.empty() == pem.empty()) fail(path, "expected exactly one of \"file\" and \"pem\"");
  out = pem.empty() ? PrivateKey::file(file, passphrase) : PrivateKey::memory(pem, passphrase);
  if (!certificate_file.empty()) out = out.with_certificate_file(certificate_file);
}

void read_value(const json& j, const std::string& path, ProxyConfig& out) {
  Reader r(j, path);
  proxy_fields(r, out);
  r.done();
  if (out.host.empty()) fail(path + ".host", "expected the proxy's host name");
}

json write_value(const ProxyConfig& proxy) {
  Writer w;
  proxy_fields(w, proxy);
  return w.j;
}

/// "ssh_options": ["Key=Value", ...], applied after the other keys through
/// the one keyword table (apply_ssh_option), so a keyword means what it
/// means in an ssh config.
template <class Settings>
void read_ssh_options(const json& j, const std::string& path, Settings& settings) {
  auto found = j.find("ssh_options");
  if (found == j.end()) return;
  std::string where = path + (path.empty() ? "" : ".") + "ssh_options";
  if (!found->is_array()) fail(where, "expected a list of \"Key=Value\" strings");
  for (std::size_t i = 0; i < found->size(); ++i) {
    std::string at = where + "[" + std::to_string(i) + "]";
    std::string option;
    read_value((*found)[i], at, option);
    try {
      apply_ssh_option(settings, option);
    } catch (const ConfigError& e) {
      fail(at, e.what());
    }
  }
}

template <class Settings, class Fields>
Settings settings_at(const json& j, const std::string& path, Fields fields, const char* extra_key) {
  Settings settings;
  Reader r(j, path);
  if (extra_key != nullptr) r.skip(extra_key);
  r.skip("ssh_options");
  fields(r, settings);
  r.done();
  read_ssh_options(j, path, settings);
  return settings;
}

HostConfig host_config_at(const json& j, const std::string& path, bool with_host_key) {
  return settings_at<HostConfig>(j, path, [](Reader& r, HostConfig& c) { host_fields(r, c); },
                                 with_host_key ? "host" : nullptr);
}

ClientOptions client_options_at(const json& j, const std::string& path) {
  return settings_at<ClientOptions>(j, path, [](Reader& r, ClientOptions& o) { client_fields(r, o); },
                                    nullptr);
}

}  // namespace

json to_json(const ClientOptions& options) {
  Writer w;
  client_fields(w, options);
  if (!options.ssh_config) w.j["ssh_config"] = nullptr;
  if (!options.system_ssh_config) w.j["system_ssh_config"] = nullptr;
  return w.j;
}

ClientOptions client_options_from_json(const json& j) { return client_options_at(j, ""); }

json to_json(const HostConfig& config) {
  Writer w;
  host_fields(w, config);
  return w.j;
}

HostConfig host_config_from_json(const json& j) { return host_config_at(j, "", false); }

json to_json(const Inventory& inventory) {
  json hosts = json::array();
  for (std::size_t i = 0; i < inventory.hosts.size(); ++i) {
    json entry = i < inventory.host_config.size() ? to_json(inventory.host_config[i]) : json::object();
    entry["host"] = inventory.hosts[i];
    hosts.push_back(std::move(entry));
  }
  return {{"defaults", to_json(inventory.defaults)}, {"hosts", std::move(hosts)}};
}

Inventory inventory_from_json(const json& j) {
  Inventory inventory;
  Reader top(j, "");
  top.skip("defaults");
  top.skip("hosts");
  top.done();
  if (auto defaults = j.find("defaults"); defaults != j.end())
    inventory.defaults = client_options_at(*defaults, "defaults");
  auto hosts = j.find("hosts");
  if (hosts == j.end()) fail("hosts", "missing; give a list of hosts");
  if (!hosts->is_array()) fail("hosts", "expected a list");
  for (std::size_t i = 0; i < hosts->size(); ++i) {
    const json& item = (*hosts)[i];
    std::string path = "hosts[" + std::to_string(i) + "]";
    std::vector<HostEntry> entries;
    try {
      if (item.is_string()) {
        entries = parse_host_entry(item.get<std::string>());
      } else if (item.is_object()) {
        auto host = item.find("host");
        if (host == item.end() || !host->is_string()) fail(path + ".host", "expected a host name");
        HostConfig config = host_config_at(item, path, true);
        for (auto& h : expand_hosts(host->get<std::string>())) entries.push_back({h, config});
      } else {
        fail(path, "expected a host name or an object with \"host\"");
      }
    } catch (const JsonError&) {
      throw;
    } catch (const ConfigError& e) {
      fail(path, e.what());
    }
    for (auto& entry : entries) {
      inventory.hosts.push_back(std::move(entry.host));
      inventory.host_config.push_back(std::move(entry.config));
    }
  }
  return inventory;
}

Inventory load_inventory(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw JsonError(path + ": cannot read the inventory file");
  json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw JsonError(path + ": not valid JSON");
  try {
    return inventory_from_json(j);
  } catch (const JsonError& e) {
    throw JsonError(path + ": " + e.what());
  }
}

}  // namespace pssh
