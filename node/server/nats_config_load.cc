#include "server/nats_config_load.h"

#include <cctype>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>

#include "config/reader.h"
#include "config/values.h"
#include "server/config_load.h"
#include "server/leafnode.h"
#include "server/nats_conf.h"
#include "server/nkey.h"

namespace meridian::server {
namespace {

using Type = NatsConfValue::Type;
using std::chrono::milliseconds;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// nats-server settings meridian-node does not implement yet, and what to do instead.
const std::map<std::string, std::string>& UnsupportedTopLevel() {
  static const std::map<std::string, std::string> kKeys = {
      {"gateway", "gateways (super-clusters) are not supported yet by meridian-node"},
      {"websocket", "WebSocket clients are not supported yet by meridian-node"},
      {"ws", "WebSocket clients are not supported yet by meridian-node"},
      {"mqtt", "MQTT clients are not supported yet by meridian-node"},
      {"operator", "operator/JWT mode is not supported yet by meridian-node"},
      {"operators", "operator/JWT mode is not supported yet by meridian-node"},
      {"root", "operator/JWT mode is not supported yet by meridian-node"},
      {"roots", "operator/JWT mode is not supported yet by meridian-node"},
      {"trusted", "operator/JWT mode is not supported yet by meridian-node"},
      {"trusted_keys", "operator/JWT mode is not supported yet by meridian-node"},
      {"resolver", "operator/JWT mode is not supported yet by meridian-node"},
      {"resolver_preload", "operator/JWT mode is not supported yet by meridian-node"},
      {"client_advertise", "client_advertise is not supported yet by meridian-node"},
      {"lame_duck_duration", "lame duck mode is not supported yet by meridian-node"},
      {"lame_duck_grace_period", "lame duck mode is not supported yet by meridian-node"},
      {"server_tags", "server tags are not supported yet by meridian-node"},
      {"syslog", "syslog logging is not supported by meridian-node; use logfile"},
      {"remote_syslog", "syslog logging is not supported by meridian-node; use logfile"},
      {"https", "HTTPS monitoring is not supported yet by meridian-node; use http"},
      {"https_port", "HTTPS monitoring is not supported yet by meridian-node; use http"},
      {"http_base_path", "a monitoring base path is not supported yet by meridian-node"},
      {"ports_file_dir", "ports files are not supported yet by meridian-node"},
      {"ocsp", "OCSP stapling is not supported yet by meridian-node"},
      {"no_header_support", "turning headers off is not supported by meridian-node"},
      {"disable_sublist_cache", "turning the sublist cache off is not supported by meridian-node"},
      {"connect_error_reports", "connect_error_reports is not supported yet by meridian-node"},
      {"reconnect_error_reports", "reconnect_error_reports is not supported yet by meridian-node"},
      {"max_traced_msg_len", "max_traced_msg_len is not supported yet by meridian-node"},
      {"default_js_domain", "default_js_domain is not supported yet by meridian-node"},
      {"logfile_size_limit", "log file rotation by size is not supported; rotate with SIGHUP"},
  };
  return kKeys;
}

class Loader {
 public:
  Loader(Options& o, NatsConfProgram* p) : o_(o), program_(p) {}

  void Root(const NatsConfValue& root) {
    for (const NatsConfEntry& e : root.map) {
      if (e.used_as_variable) continue;
      std::string k = Lower(e.key);
      if (k == "listen") {
        Listen(e, k, o_.host, o_.port);
      } else if (k == "host" || k == "net") {
        Str(e, k, o_.host);
      } else if (k == "port") {
        Port(e, k, o_.port);
      } else if (k == "server_name") {
        Str(e, k, o_.server_name);
      } else if (k == "http") {
        uint16_t port = 0;
        if (Listen(e, k, o_.http_host, port)) o_.http_port = port;
      } else if (k == "http_port" || k == "monitor_port") {
        uint16_t port = 0;
        if (Port(e, k, port)) o_.http_port = port;
      } else if (k == "http_host") {
        Str(e, k, o_.http_host);
      } else if (k == "max_payload") {
        Unsigned(e, k, o_.max_payload);
      } else if (k == "max_pending") {
        Unsigned(e, k, o_.max_pending);
      } else if (k == "max_connections" || k == "max_conn") {
        Int(e, k, o_.max_connections);
      } else if (k == "max_subscriptions" || k == "max_subs") {
        Int(e, k, o_.max_subscriptions);
      } else if (k == "max_control_line") {
        uint64_t v = 0;
        if (Unsigned(e, k, v)) o_.max_control_line = static_cast<uint32_t>(v);
      } else if (k == "ping_interval") {
        Duration(e, k, o_.ping_interval);
      } else if (k == "write_deadline") {
        Duration(e, k, o_.write_deadline);
      } else if (k == "ping_max") {
        Int(e, k, o_.ping_max);
      } else if (k == "authorization") {
        Authorization(e);
      } else if (k == "accounts") {
        Accounts(e);
      } else if (k == "system_account" || k == "system") {
        Str(e, k, o_.system_account);
      } else if (k == "no_auth_user") {
        Str(e, k, o_.no_auth_user);
      } else if (k == "mappings" || k == "maps") {
        Mappings(e, k, GlobalAccount().mappings);
      } else if (k == "cluster") {
        Cluster(e, k);
      } else if (k == "jetstream") {
        JetStream(e);
      } else if (k == "leafnodes" || k == "leaf") {
        LeafNodes(e, k);
      } else if (k == "tls") {
        Tls(e);
      } else if (k == "debug" || k == "trace") {
        bool b = false;
        if (Bool(e, k, b) && program_) (k == "debug" ? program_->debug : program_->trace) = b;
      } else if (k == "logtime") {
        bool b = false;
        Bool(e, k, b);  // spdlog lines always carry a time
      } else if (k == "logfile" || k == "log_file") {
        std::string s;
        if (Str(e, k, s) && program_) program_->log_file = s;
      } else if (k == "pidfile" || k == "pid_file") {
        std::string s;
        if (Str(e, k, s) && program_) program_->pid_file = s;
      } else if (auto it = UnsupportedTopLevel().find(k); it != UnsupportedTopLevel().end()) {
        Fail(e, k, it->second + "; remove the \"" + e.key + "\" setting");
      } else {
        Fail(e, k,
             "unknown setting \"" + e.key + "\" (neither nats-server nor meridian-node has it)");
      }
    }
    if (o_.max_payload > o_.max_pending) {
      Fail(
          root.file, root.line, "max_payload",
          "max_payload must not exceed max_pending (" + std::to_string(o_.max_pending) + " bytes)");
    }
    if (!o_.no_auth_user.empty()) {
      bool found = false;
      for (const auto& u : o_.users) found = found || u.name == o_.no_auth_user;
      if (!found) {
        Fail(root.file, root.line, "no_auth_user",
             "no_auth_user \"" + o_.no_auth_user + "\" is not a configured user");
      }
    }
  }

  std::vector<config::ConfigIssue>& issues() { return issues_; }

 private:
  void Fail(const std::string& file, int line, const std::string& key, std::string message) {
    config::ConfigIssue issue;
    issue.file = file;
    issue.line = line;
    issue.key = key;
    issue.message = std::move(message);
    issues_.push_back(std::move(issue));
  }
  void Fail(const NatsConfEntry& e, const std::string& key, std::string message) {
    Fail(e.file, e.line, key, std::move(message));
  }
  void Fail(const NatsConfValue& v, const std::string& key, std::string message) {
    Fail(v.file, v.line, key, std::move(message));
  }
  void WrongType(const NatsConfValue& v, const std::string& key, const char* want) {
    Fail(v, key, std::string("must be ") + want + ", not " + v.TypeName());
  }

  bool Str(const NatsConfValue& v, const std::string& key, std::string& out) {
    if (v.type == Type::kString) {
      out = v.string;
      return true;
    }
    if (v.type == Type::kInteger) {  // `user: 123`
      out = std::to_string(v.integer);
      return true;
    }
    WrongType(v, key, "a string");
    return false;
  }
  bool Str(const NatsConfEntry& e, const std::string& key, std::string& out) {
    return Str(e.value, key, out);
  }
  bool Bool(const NatsConfEntry& e, const std::string& key, bool& out) {
    if (e.value.type == Type::kBool) {
      out = e.value.boolean;
      return true;
    }
    WrongType(e.value, key, "true or false");
    return false;
  }
  bool Int64(const NatsConfEntry& e, const std::string& key, int64_t& out) {
    if (e.value.type == Type::kInteger) {
      out = e.value.integer;
      return true;
    }
    WrongType(e.value, key, "an integer (sizes like 1MB are integers)");
    return false;
  }
  bool Int(const NatsConfEntry& e, const std::string& key, int& out) {
    int64_t v = 0;
    if (!Int64(e, key, v)) return false;
    if (v < INT32_MIN || v > INT32_MAX) {
      Fail(e, key, "is out of range");
      return false;
    }
    out = static_cast<int>(v);
    return true;
  }
  bool Unsigned(const NatsConfEntry& e, const std::string& key, uint64_t& out) {
    int64_t v = 0;
    if (!Int64(e, key, v)) return false;
    if (v < 0) {
      Fail(e, key, "must not be negative");
      return false;
    }
    out = static_cast<uint64_t>(v);
    return true;
  }
  bool Port(const NatsConfEntry& e, const std::string& key, uint16_t& out) {
    int64_t v = 0;
    if (!Int64(e, key, v)) return false;
    if (v < 0 || v > 65535) {
      Fail(e, key, "port " + std::to_string(v) + " is not in 0..65535");
      return false;
    }
    out = static_cast<uint16_t>(v);
    return true;
  }
  // "host:port", ":port" or a port number.
  bool Listen(const NatsConfEntry& e, const std::string& key, std::string& host, uint16_t& port) {
    if (e.value.type == Type::kInteger) return Port(e, key, port);
    if (e.value.type != Type::kString) {
      WrongType(e.value, key, "\"host:port\" or a port number");
      return false;
    }
    std::string text = e.value.string;
    if (text.starts_with(":")) text = "0.0.0.0" + text;
    auto hp = config::ParseHostPort(text);
    if (!hp) {
      Fail(e, key, "\"" + e.value.string + "\" is not host:port");
      return false;
    }
    host = hp->host;
    port = hp->port;
    return true;
  }
  // A duration string ("2s", "1m30s") or a number of seconds, as nats-server.
  bool Duration(const NatsConfEntry& e, const std::string& key, milliseconds& out) {
    const NatsConfValue& v = e.value;
    if (v.type == Type::kInteger || v.type == Type::kFloat) {
      double s = v.type == Type::kInteger ? static_cast<double>(v.integer) : v.real;
      if (s < 0) {
        Fail(e, key, "must not be negative");
        return false;
      }
      out = milliseconds(static_cast<int64_t>(std::llround(s * 1000)));
      return true;
    }
    if (v.type == Type::kString) {
      if (auto d = config::ParseDuration(v.string)) {
        out = std::chrono::duration_cast<milliseconds>(*d);
        return true;
      }
      Fail(e, key, "\"" + v.string + "\" is not a duration such as \"2s\" or \"1m30s\"");
      return false;
    }
    WrongType(v, key, "a duration such as \"2s\"");
    return false;
  }
  // A string or an array of strings.
  bool StringList(const NatsConfValue& v, const std::string& key, std::vector<std::string>& out) {
    if (v.type == Type::kString) {
      out.push_back(v.string);
      return true;
    }
    if (v.type != Type::kArray) {
      WrongType(v, key, "a subject or an array of subjects");
      return false;
    }
    for (size_t i = 0; i < v.array.size(); ++i) {
      std::string s;
      if (Str(v.array[i], key + "[" + std::to_string(i) + "]", s)) out.push_back(s);
    }
    return true;
  }

  AccountConfig& GlobalAccount() { return AccountNamed(kGlobalAccount); }
  AccountConfig& AccountNamed(const std::string& name) {
    for (auto& a : o_.accounts) {
      if (a.name == name) return a;
    }
    o_.accounts.push_back(AccountConfig{});
    o_.accounts.back().name = name;
    return o_.accounts.back();
  }

  // publish/subscribe: "subj", ["a", "b"] (allow lists) or {allow: ..., deny: ...}.
  void SubjectPermissions(const NatsConfValue& v, const std::string& key, SubjectPermission& p) {
    if (v.type != Type::kMap) {
      StringList(v, key, p.allow);
      return;
    }
    for (const NatsConfEntry& e : v.map) {
      std::string k = Lower(e.key);
      if (k == "allow") {
        StringList(e.value, key + ".allow", p.allow);
      } else if (k == "deny") {
        StringList(e.value, key + ".deny", p.deny);
      } else {
        Fail(e, key + "." + e.key, "unknown key; a permission has allow and deny");
      }
    }
  }

  void PermissionsBlock(const NatsConfValue& v, const std::string& key, Permissions& p) {
    if (v.type != Type::kMap) {
      WrongType(v, key, "a block {publish: ..., subscribe: ...}");
      return;
    }
    for (const NatsConfEntry& e : v.map) {
      std::string k = Lower(e.key);
      if (k == "publish" || k == "pub") {
        SubjectPermissions(e.value, key + ".publish", p.publish);
      } else if (k == "subscribe" || k == "sub") {
        SubjectPermissions(e.value, key + ".subscribe", p.subscribe);
      } else if (k == "allow_responses" || k == "allow_resp") {
        Fail(e, key + "." + e.key,
             "allow_responses is not supported yet by meridian-node; remove it and allow the "
             "reply subjects with publish");
      } else {
        Fail(e, key + "." + e.key, "unknown key; permissions have publish and subscribe");
      }
    }
  }

  void Users(const NatsConfValue& v, const std::string& key, const std::string& account,
             const Permissions* defaults) {
    if (v.type != Type::kArray) {
      WrongType(v, key, "an array of {user: ..., password: ...}");
      return;
    }
    for (size_t i = 0; i < v.array.size(); ++i) {
      const NatsConfValue& u = v.array[i];
      std::string ukey = key + "[" + std::to_string(i) + "]";
      if (u.type != Type::kMap) {
        WrongType(u, ukey, "a block {user: ..., password: ...}");
        continue;
      }
      User user;
      user.account = account;
      if (defaults) user.permissions = *defaults;
      bool has_name = false;
      for (const NatsConfEntry& e : u.map) {
        std::string k = Lower(e.key);
        if (k == "user" || k == "username") {
          has_name = Str(e, ukey + ".user", user.name);
        } else if (k == "pass" || k == "password") {
          Str(e, ukey + ".password", user.password);
        } else if (k == "permissions") {
          user.permissions = Permissions{};
          PermissionsBlock(e.value, ukey + ".permissions", user.permissions);
        } else if (k == "nkey") {
          if (Str(e, ukey + ".nkey", user.nkey) && !IsPublicUserNkey(user.nkey)) {
            Fail(e, ukey + ".nkey", "\"" + user.nkey + "\" is not a public user nkey (U...)");
          }
        } else if (k == "allowed_connection_types") {
          Fail(e, ukey + "." + e.key,
               "allowed_connection_types is not supported yet by meridian-node");
        } else {
          Fail(e, ukey + "." + e.key, "unknown key; a user has user, password and permissions");
        }
      }
      if (!has_name && !user.nkey.empty()) {
        user.name = user.nkey;  // as nats-server shows nkey users
        has_name = true;
      }
      if (!has_name) {
        Fail(u, ukey, "a user needs user: <name> or nkey: <public key>");
        continue;
      }
      for (const auto& existing : o_.users) {
        if (existing.name == user.name) {
          Fail(u, ukey, "user \"" + user.name + "\" is configured twice");
        }
      }
      o_.users.push_back(std::move(user));
    }
  }

  void Authorization(const NatsConfEntry& block) {
    const NatsConfValue& v = block.value;
    if (v.type != Type::kMap) {
      WrongType(v, "authorization", "a block {...}");
      return;
    }
    std::string single_user, single_pass;
    Permissions defaults;
    bool has_defaults = false;
    if (const NatsConfEntry* p = v.Find("permissions")) {
      PermissionsBlock(p->value, "authorization.permissions", defaults);
      has_defaults = true;
    }
    for (const NatsConfEntry& e : v.map) {
      std::string k = Lower(e.key);
      std::string key = "authorization." + e.key;
      if (e.used_as_variable || k == "permissions") continue;
      if (k == "user" || k == "username") {
        Str(e, key, single_user);
      } else if (k == "pass" || k == "password") {
        Str(e, key, single_pass);
      } else if (k == "token") {
        Str(e, key, o_.token);
      } else if (k == "timeout") {
        Duration(e, key, o_.auth_timeout);
      } else if (k == "users") {
        Users(e.value, key, "", has_defaults ? &defaults : nullptr);
      } else if (k == "nkeys") {
        Fail(e, key, "nkey users are not supported yet by meridian-node");
      } else if (k == "auth_callout") {
        Fail(e, key, "auth callout is not supported by meridian-node (nor nats-server 2.9)");
      } else {
        Fail(e, key,
             "unknown key; authorization has user, password, token, timeout, users "
             "and permissions");
      }
    }
    if (!single_user.empty() || !single_pass.empty()) {
      if (single_user.empty()) {
        Fail(block, "authorization.password", "a password needs a user");
        return;
      }
      User u;
      u.name = single_user;
      u.password = single_pass;
      if (has_defaults) u.permissions = defaults;
      o_.users.push_back(std::move(u));
    }
  }

  void Mappings(const NatsConfEntry& block, const std::string& key,
                std::vector<MappingConfig>& out) {
    const NatsConfValue& v = block.value;
    if (v.type != Type::kMap) {
      WrongType(v, key, "a block {\"source\": \"destination\", ...}");
      return;
    }
    for (const NatsConfEntry& e : v.map) {
      if (e.used_as_variable) continue;
      std::string mkey = key + "." + e.key;
      MappingConfig mc;
      mc.source = e.key;
      if (e.value.type == Type::kString) {
        mc.destinations.push_back({e.value.string, 100, ""});
      } else if (e.value.type == Type::kMap || e.value.type == Type::kArray) {
        std::vector<const NatsConfValue*> items;
        if (e.value.type == Type::kMap) {
          items.push_back(&e.value);
        } else {
          for (const auto& item : e.value.array) items.push_back(&item);
        }
        for (const NatsConfValue* d : items) {
          if (d->type != Type::kMap) {
            WrongType(*d, mkey, "a block {destination: ..., weight: ...}");
            continue;
          }
          subject::MappingDestination md;
          for (const NatsConfEntry& f : d->map) {
            std::string k = Lower(f.key);
            if (k == "destination" || k == "dest") {
              Str(f, mkey + ".destination", md.subject);
            } else if (k == "weight") {
              Weight(f, mkey + ".weight", md.weight);
            } else if (k == "cluster") {
              Str(f, mkey + ".cluster", md.cluster);
            } else {
              Fail(f, mkey + "." + f.key,
                   "unknown key; a mapping destination has destination, weight and cluster");
            }
          }
          if (md.subject.empty()) {
            Fail(*d, mkey, "a mapping destination needs destination: <subject>");
            continue;
          }
          mc.destinations.push_back(std::move(md));
        }
      } else {
        WrongType(e.value, mkey, "a destination subject or [{destination: ..., weight: ...}]");
        continue;
      }
      if (!mc.destinations.empty()) out.push_back(std::move(mc));
    }
  }

  // 50, "50%" or 50%.
  void Weight(const NatsConfEntry& e, const std::string& key, int& out) {
    int64_t w = -1;
    if (e.value.type == Type::kInteger) {
      w = e.value.integer;
    } else if (e.value.type == Type::kString) {
      std::string s = e.value.string;
      if (s.ends_with("%")) s.pop_back();
      char* end = nullptr;
      long v = std::strtol(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0') w = v;
    }
    if (w < 0 || w > 100) {
      Fail(e, key, "a weight is a percentage from 0 to 100, such as 50%");
      return;
    }
    out = static_cast<int>(w);
  }

  // true/false/"enabled"/"disabled", or a block (enabled with those limits).
  bool EnabledFlag(const NatsConfValue& v, const std::string& key, bool& out) {
    if (v.type == Type::kBool) {
      out = v.boolean;
      return true;
    }
    if (v.type == Type::kString) {
      std::string s = Lower(v.string);
      if (s == "enabled" || s == "enable") {
        out = true;
        return true;
      }
      if (s == "disabled" || s == "disable") {
        out = false;
        return true;
      }
    }
    WrongType(v, key, "enabled, disabled, true, false or a block {...}");
    return false;
  }

  // JetStream sizes: an integer (1GB) or a string with K/M/G/T (powers of 1024, as
  // nats-server's storage sizes).
  bool StorageSize(const NatsConfEntry& e, const std::string& key, int64_t& out) {
    if (e.value.type == Type::kInteger) {
      out = e.value.integer;
      return true;
    }
    if (e.value.type == Type::kString) {
      std::string s = e.value.string;
      int64_t mult = 1;
      if (!s.empty()) {
        switch (std::toupper(static_cast<unsigned char>(s.back()))) {
          case 'K':
            mult = 1LL << 10;
            break;
          case 'M':
            mult = 1LL << 20;
            break;
          case 'G':
            mult = 1LL << 30;
            break;
          case 'T':
            mult = 1LL << 40;
            break;
          default:
            break;
        }
        if (mult != 1) s.pop_back();
      }
      char* end = nullptr;
      long long v = std::strtoll(s.c_str(), &end, 10);
      if (!s.empty() && *end == '\0' && v >= 0) {
        out = v * mult;
        return true;
      }
    }
    Fail(e, key, "must be a size such as 1GB or \"512M\"");
    return false;
  }

  // cluster { name: X }: only the name (sent in INFO as `cluster`, used by cluster-scoped
  // mappings); routes, listen and the rest of clustering are refused.
  void Cluster(const NatsConfEntry& e, const std::string& key) {
    if (e.value.type != Type::kMap) {
      WrongType(e.value, key, "a block {name: ...}");
      return;
    }
    for (const NatsConfEntry& f : e.value.map) {
      if (f.used_as_variable) continue;
      std::string fkey = key + "." + f.key;
      if (Lower(f.key) == "name") {
        Str(f, fkey, o_.cluster_name);
      } else {
        Fail(f, fkey,
             "clustering (routes) is not supported yet by meridian-node (a cluster block may "
             "only set name)");
      }
    }
  }

  // leafnodes { remotes: [ {url(s), account} ], reconnect }: the node connects out as a leaf.
  void LeafNodes(const NatsConfEntry& e, const std::string& key) {
    if (e.value.type != Type::kMap) {
      WrongType(e.value, key, "a block {remotes: [...]}");
      return;
    }
    LeafNodeOptions& ln = o_.leafnodes;
    for (const NatsConfEntry& f : e.value.map) {
      if (f.used_as_variable) continue;
      std::string k = Lower(f.key);
      std::string fkey = key + "." + f.key;
      if (k == "remotes") {
        if (f.value.type != Type::kArray) {
          WrongType(f.value, fkey, "a list of remotes [{url: ..., account: ...}]");
          continue;
        }
        for (const NatsConfValue& r : f.value.array) LeafRemote(r, fkey);
      } else if (k == "reconnect" || k == "reconnect_interval") {
        Duration(f, fkey, ln.reconnect);
      } else if (k == "listen") {
        uint16_t port = 0;
        if (Listen(f, fkey, ln.host, port)) ln.port = port;
      } else if (k == "port") {
        uint16_t port = 0;
        if (Port(f, fkey, port)) ln.port = port;
      } else if (k == "host" || k == "net") {
        Str(f, fkey, ln.host);
      } else if (k == "tls") {
        LeafTls(f, fkey, nullptr);
      } else if (k == "authorization" || k == "advertise" || k == "no_advertise" ||
                 k == "compression" || k == "min_version") {
        Fail(f, fkey,
             "this setting of accepted leaf-node connections is not supported yet by "
             "meridian-node (accepted leafs authenticate as the server's users and are bound to "
             "their account; TLS is leafnodes { tls {...} })");
      } else {
        Fail(f, fkey,
             "this leafnodes setting is not supported by meridian-node (it has listen, host, "
             "port, remotes and reconnect)");
      }
    }
  }

  // A subject or a list of subjects.
  void Subjects(const NatsConfValue& v, const std::string& key, std::vector<std::string>& out) {
    if (v.type == Type::kArray) {
      for (const NatsConfValue& x : v.array) {
        std::string s;
        if (Str(x, key, s)) out.push_back(s);
      }
      return;
    }
    std::string s;
    if (Str(v, key, s)) out.push_back(s);
  }

  // A leafnodes tls block: the accepting side's (remote null) or a remote's.
  void LeafTls(const NatsConfEntry& e, const std::string& key, LeafRemoteOptions* remote) {
    if (e.value.type != Type::kMap) {
      WrongType(e.value, key, "a block {cert_file: ..., key_file: ...}");
      return;
    }
    LeafNodeOptions& ln = o_.leafnodes;
    if (remote) {
      remote->tls = true;
    } else {
      ln.tls = true;
    }
    for (const NatsConfEntry& f : e.value.map) {
      if (f.used_as_variable) continue;
      std::string k = Lower(f.key);
      std::string fkey = key + "." + f.key;
      if (k == "cert_file") {
        Str(f, fkey, remote ? remote->tls_cert_file : ln.tls_cert_file);
      } else if (k == "key_file") {
        Str(f, fkey, remote ? remote->tls_key_file : ln.tls_key_file);
      } else if (k == "ca_file") {
        Str(f, fkey, remote ? remote->tls_ca_file : ln.tls_ca_file);
      } else if (k == "verify" && !remote) {
        Bool(f, fkey, ln.tls_verify);
      } else if (k == "timeout" && !remote) {
        Duration(f, fkey, ln.tls_timeout);
      } else {
        Fail(f, fkey,
             remote ? "this leaf remote tls setting is not supported yet by meridian-node (it has "
                      "ca_file, cert_file and key_file)"
                    : "this leafnodes tls setting is not supported yet by meridian-node (it has "
                      "cert_file, key_file, ca_file, verify and timeout)");
      }
    }
    if (!remote && (ln.tls_cert_file.empty() || ln.tls_key_file.empty())) {
      Fail(e, key, "accepting leafs with TLS needs cert_file and key_file");
    }
  }

  void LeafRemote(const NatsConfValue& r, const std::string& key) {
    if (r.type != Type::kMap) {
      WrongType(r, key, "a block {url: ..., account: ...}");
      return;
    }
    LeafRemoteOptions remote;
    for (const NatsConfEntry& f : r.map) {
      if (f.used_as_variable) continue;
      std::string k = Lower(f.key);
      std::string fkey = key + "." + f.key;
      if (k == "url") {
        std::string u;
        if (Str(f, fkey, u)) remote.urls.push_back(u);
      } else if (k == "urls") {
        if (f.value.type != Type::kArray) {
          std::string u;
          if (Str(f, fkey, u)) remote.urls.push_back(u);
          continue;
        }
        for (const NatsConfValue& v : f.value.array) {
          std::string u;
          if (Str(v, fkey, u)) remote.urls.push_back(u);
        }
      } else if (k == "account" || k == "local") {
        Str(f, fkey, remote.account);
      } else if (k == "tls") {
        LeafTls(f, fkey, &remote);
      } else if (k == "deny_imports" || k == "deny_import") {
        Subjects(f.value, fkey, remote.deny_imports);
      } else if (k == "deny_exports" || k == "deny_export") {
        Subjects(f.value, fkey, remote.deny_exports);
      } else if (k == "credentials" || k == "creds") {
        Fail(f, fkey,
             "credentials files (JWT) are not supported yet by meridian-node; put user:password "
             "in the url (nats-leaf://user:password@host:port)");
      } else {
        Fail(f, fkey,
             "this leaf remote setting is not supported yet by meridian-node (it has url, urls, "
             "account, tls, deny_imports and deny_exports)");
      }
    }
    for (const auto& u : remote.urls) {
      std::string why = ValidateLeafUrl(u);
      if (!why.empty()) Fail(r, key, why);
    }
    if (remote.urls.empty()) {
      Fail(r, key, "a leaf remote needs url or urls");
      return;
    }
    o_.leafnodes.remotes.push_back(std::move(remote));
  }

  void JetStream(const NatsConfEntry& e) {
    JetStreamOptions& js = o_.jetstream;
    if (e.value.type != Type::kMap) {
      EnabledFlag(e.value, "jetstream", js.enabled);
      return;
    }
    js.enabled = true;
    for (const NatsConfEntry& f : e.value.map) {
      if (f.used_as_variable) continue;
      std::string k = Lower(f.key);
      std::string key = "jetstream." + f.key;
      if (k == "store_dir" || k == "storedir") {
        Str(f, key, js.store_dir);
      } else if (k == "max_memory_store" || k == "max_mem_store" || k == "max_mem") {
        StorageSize(f, key, js.max_memory);
      } else if (k == "max_file_store" || k == "max_file") {
        StorageSize(f, key, js.max_file);
      } else if (k == "domain") {
        Str(f, key, js.domain);
      } else if (k == "enabled" || k == "enable") {
        EnabledFlag(f.value, key, js.enabled);
      } else {
        Fail(f, key,
             "this JetStream setting is not supported yet by meridian-node (it has "
             "store_dir, max_memory_store, max_file_store, domain and enabled)");
      }
    }
  }

  void Tls(const NatsConfEntry& block) {
    if (block.value.type != Type::kMap) {
      WrongType(block.value, "tls", "a block {cert_file: ..., key_file: ...}");
      return;
    }
    TlsOptions& t = o_.tls;
    t.enabled = true;
    for (const NatsConfEntry& e : block.value.map) {
      if (e.used_as_variable) continue;
      std::string k = Lower(e.key);
      std::string key = "tls." + e.key;
      if (k == "cert_file") {
        Str(e, key, t.cert_file);
      } else if (k == "key_file") {
        Str(e, key, t.key_file);
      } else if (k == "ca_file") {
        Str(e, key, t.ca_file);
      } else if (k == "verify") {
        Bool(e, key, t.verify);
      } else if (k == "timeout") {
        Duration(e, key, t.timeout);
      } else if (k == "handshake_first" || k == "first" || k == "immediate") {
        HandshakeFirst(e, key, t);
      } else {
        Fail(e, key,
             "this TLS setting is not supported yet by meridian-node (it has cert_file, "
             "key_file, ca_file, verify, timeout and handshake_first)");
      }
    }
    if (t.cert_file.empty() || t.key_file.empty()) {
      Fail(block, "tls", "tls needs cert_file and key_file");
    }
  }

  // As nats-server 2.10: true/false (or "true"/"on"/"false"/"off"), "auto"/"auto_fallback"
  // (TLS first with a 50 ms fallback to INFO first) or a duration (that fallback).
  void HandshakeFirst(const NatsConfEntry& e, const std::string& key, TlsOptions& t) {
    const NatsConfValue& v = e.value;
    t.handshake_first_fallback = milliseconds(0);
    if (v.type == Type::kBool) {
      t.handshake_first = v.boolean;
      return;
    }
    if (v.type != Type::kString) {
      WrongType(v, key, "a boolean or a string (\"auto\" or a fallback duration)");
      return;
    }
    std::string s = Lower(v.string);
    if (s == "true" || s == "on") {
      t.handshake_first = true;
    } else if (s == "false" || s == "off") {
      t.handshake_first = false;
    } else if (s == "auto" || s == "auto_fallback") {
      t.handshake_first = true;
      t.handshake_first_fallback = kTlsFirstAutoFallback;
    } else if (auto d = config::ParseDuration(v.string); d && d->count() > 0) {
      t.handshake_first = true;
      t.handshake_first_fallback = std::chrono::duration_cast<milliseconds>(*d);
    } else {
      Fail(e, key, "\"" + v.string + "\" is invalid: use true, false, \"auto\" or a fallback "
                   "duration such as \"300ms\"");
    }
  }

  // [{stream: "subj"}, {service: "subj"}]
  void Exports(const NatsConfValue& v, const std::string& key, std::vector<ExportConfig>& out) {
    if (v.type != Type::kArray) {
      WrongType(v, key, "an array [{stream: ...}, {service: ...}]");
      return;
    }
    for (size_t i = 0; i < v.array.size(); ++i) {
      const NatsConfValue& x = v.array[i];
      std::string xkey = key + "[" + std::to_string(i) + "]";
      if (x.type != Type::kMap) {
        WrongType(x, xkey, "a block {stream: ...} or {service: ...}");
        continue;
      }
      ExportConfig ex;
      bool kind = false;
      for (const NatsConfEntry& e : x.map) {
        std::string k = Lower(e.key);
        if (k == "stream" || k == "service") {
          ex.service = k == "service";
          kind = Str(e, xkey + "." + e.key, ex.subject);
        } else if (k == "accounts") {
          StringList(e.value, xkey + "." + e.key, ex.accounts);
        } else if (k == "response_type" || k == "response") {
          std::string t;
          if (Str(e, xkey + "." + e.key, t) && Lower(t) != "singleton") {
            Fail(e, xkey + "." + e.key,
                 "only singleton responses are supported yet by meridian-node");
          }
        } else {
          Fail(e, xkey + "." + e.key,
               "not supported yet by meridian-node (an export has stream or service, and "
               "accounts)");
        }
      }
      if (!kind) {
        Fail(x, xkey, "an export needs stream: <subject> or service: <subject>");
        continue;
      }
      out.push_back(std::move(ex));
    }
  }

  // [{stream: {account: A, subject: s}, prefix: p}, {service: {account: A, subject: s}, to: t}]
  void Imports(const NatsConfValue& v, const std::string& key, std::vector<ImportConfig>& out) {
    if (v.type != Type::kArray) {
      WrongType(v, key, "an array [{stream: {account, subject}}, {service: {...}}]");
      return;
    }
    for (size_t i = 0; i < v.array.size(); ++i) {
      const NatsConfValue& x = v.array[i];
      std::string xkey = key + "[" + std::to_string(i) + "]";
      if (x.type != Type::kMap) {
        WrongType(x, xkey, "a block {stream: {account, subject}} or {service: {...}}");
        continue;
      }
      ImportConfig im;
      bool kind = false;
      for (const NatsConfEntry& e : x.map) {
        std::string k = Lower(e.key);
        std::string ekey = xkey + "." + e.key;
        if (k == "stream" || k == "service") {
          im.service = k == "service";
          if (e.value.type != Type::kMap) {
            WrongType(e.value, ekey, "a block {account: ..., subject: ...}");
            continue;
          }
          for (const NatsConfEntry& f : e.value.map) {
            std::string fk = Lower(f.key);
            if (fk == "account") {
              Str(f, ekey + ".account", im.account);
            } else if (fk == "subject") {
              Str(f, ekey + ".subject", im.subject);
            } else {
              Fail(f, ekey + "." + f.key, "unknown key; an import source has account and subject");
            }
          }
          kind = !im.account.empty() && !im.subject.empty();
          if (!kind) Fail(e, ekey, "an import needs account and subject");
        } else if (k == "prefix") {
          Str(e, ekey, im.prefix);
        } else if (k == "to") {
          Str(e, ekey, im.to);
        } else {
          Fail(e, ekey,
               "not supported yet by meridian-node (an import has stream or service, "
               "and prefix or to)");
        }
      }
      if (!kind) continue;
      if (im.service && !im.prefix.empty()) {
        Fail(x, xkey, "a service import takes to, not prefix");
        continue;
      }
      if (!im.service && !im.to.empty()) {
        Fail(x, xkey, "stream imports with to are not supported yet by meridian-node; use prefix");
        continue;
      }
      out.push_back(std::move(im));
    }
  }

  void Accounts(const NatsConfEntry& block) {
    if (block.value.type != Type::kMap) {
      WrongType(block.value, "accounts", "a block {NAME: {users: [...]}, ...}");
      return;
    }
    for (const NatsConfEntry& a : block.value.map) {
      if (a.used_as_variable) continue;
      std::string akey = "accounts." + a.key;
      AccountConfig& ac = AccountNamed(a.key);
      if (a.value.type != Type::kMap) {
        WrongType(a.value, akey, "a block {users: [...], ...}");
        continue;
      }
      for (const NatsConfEntry& e : a.value.map) {
        if (e.used_as_variable) continue;
        std::string k = Lower(e.key);
        std::string key = akey + "." + e.key;
        if (k == "users") {
          Users(e.value, key, a.key, nullptr);
        } else if (k == "jetstream") {
          if (e.value.type == Type::kMap) {
            ac.jetstream = true;
            for (const NatsConfEntry& f : e.value.map) {
              Fail(f, key + "." + f.key,
                   "per-account JetStream limits are not supported yet by meridian-node; use "
                   "jetstream: enabled");
            }
          } else {
            EnabledFlag(e.value, key, ac.jetstream);
          }
        } else if (k == "mappings" || k == "maps") {
          // Mappings(e) appends to the account found again by name: AccountNamed may not
          // reallocate meanwhile (no accounts are added inside an account block).
          Mappings(e, key, ac.mappings);
        } else if (k == "exports") {
          Exports(e.value, key, ac.exports);
        } else if (k == "imports") {
          Imports(e.value, key, ac.imports);
        } else if (k == "nkey") {
          Fail(e, key, "account nkeys are not supported yet by meridian-node");
        } else if (k == "limits" || k == "default_permissions") {
          Fail(e, key, k + " is not supported yet by meridian-node");
        } else {
          Fail(e, key, "unknown key; an account has users, jetstream and mappings");
        }
      }
    }
  }

  Options& o_;
  NatsConfProgram* program_;
  std::vector<config::ConfigIssue> issues_;
};

void Load(const NatsConfValue& root, Options& options, NatsConfProgram* program) {
  Loader loader(options, program);
  loader.Root(root);
  if (!loader.issues().empty()) throw config::ConfigError(std::move(loader.issues()));
}

}  // namespace

void LoadNatsConfigFile(const std::string& path, Options& options, NatsConfProgram* program) {
  Load(ParseNatsConfFile(path), options, program);
}

void LoadNatsConfigText(std::string_view text, const std::string& name, Options& options,
                        NatsConfProgram* program, const std::string& dir) {
  Load(ParseNatsConfText(text, name, dir), options, program);
}

bool IsTomlConfigPath(std::string_view path) {
  return path.ends_with(".toml");
}

void LoadConfigFileOfEitherFormat(const std::string& path, Options& options,
                                  NatsConfProgram* program) {
  if (IsTomlConfigPath(path)) {
    LoadConfigFile(path, options);
  } else {
    LoadNatsConfigFile(path, options, program);
  }
}

}  // namespace meridian::server
