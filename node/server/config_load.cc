#include "server/config_load.h"

#include <chrono>

#include "config/reader.h"
#include "config/values.h"
#include "server/leafnode.h"
#include "server/nkey.h"

namespace meridian::server {
namespace {

std::chrono::milliseconds Ms(std::chrono::nanoseconds d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

// [jetstream]: present = enabled unless enabled = false. sync_interval is "always" (fsync
// before every PubAck, the default) or a duration (nats-server's lazy flush).
void ApplyJetStream(const config::Table& t, JetStreamOptions& js) {
  js.enabled = t.Optional<bool>("enabled", true);
  js.store_dir = t.Optional<std::string>("store_dir", js.store_dir);
  js.domain = t.Optional<std::string>("domain", js.domain);
  if (auto v = t.Get<config::ByteSize>("max_memory_store")) {
    js.max_memory = static_cast<int64_t>(v->bytes);
  }
  if (auto v = t.Get<config::ByteSize>("max_file_store")) {
    js.max_file = static_cast<int64_t>(v->bytes);
  }
  if (t.Has("sync_interval")) {
    auto text = t.Get<std::string>("sync_interval");
    if (text && *text == "always") {
      js.sync_always = true;
    } else if (auto d = text ? config::ParseDuration(*text) : std::nullopt; d && d->count() > 0) {
      js.sync_always = false;
      js.sync_interval = Ms(*d);
    } else {
      t.Fail("sync_interval",
             "sync_interval must be \"always\" or a positive duration such as \"2m\"");
    }
  }
}

void Apply(config::Document& doc, Options& o) {
  config::Table root = doc.Root();
  o.server_name = root.Optional<std::string>("server_name", o.server_name);
  o.host = root.Optional<std::string>("host", o.host);
  o.port = root.Optional<uint16_t>("port", o.port);
  o.http_host = root.Optional<std::string>("http_host", o.http_host);
  o.http_port = root.Optional<int>("http_port", o.http_port);
  o.cluster_name = root.Optional<std::string>("cluster_name", o.cluster_name);
  if (auto v = root.Get<config::ByteSize>("max_payload")) o.max_payload = v->bytes;
  if (auto v = root.Get<config::ByteSize>("max_pending")) o.max_pending = v->bytes;
  if (auto v = root.Get<std::chrono::nanoseconds>("write_deadline")) o.write_deadline = Ms(*v);
  o.max_control_line = root.Optional<uint32_t>("max_control_line", o.max_control_line);
  o.max_connections = root.Optional<int>("max_connections", o.max_connections);
  o.max_subscriptions = root.Optional<int>("max_subscriptions", o.max_subscriptions);
  if (auto v = root.Get<std::chrono::nanoseconds>("ping_interval")) o.ping_interval = Ms(*v);
  o.ping_max = root.Optional<int>("ping_max", o.ping_max);
  if (auto v = root.Get<std::chrono::nanoseconds>("auth_timeout")) o.auth_timeout = Ms(*v);
  o.token = root.Optional<std::string>("token", o.token);
  o.system_account = root.Optional<std::string>("system_account", o.system_account);
  o.no_auth_user = root.Optional<std::string>("no_auth_user", o.no_auth_user);
  if (o.max_payload > o.max_pending) {
    root.Fail("max_payload", "max_payload must not exceed max_pending (" +
                                 std::to_string(o.max_pending) + " bytes)");
  }
  for (const config::Table& a : root.TableArray("accounts")) {
    AccountConfig ac;
    ac.name = a.Required<std::string>("name");
    ac.jetstream = a.Optional<bool>("jetstream", false);
    for (const config::Table& x : a.TableArray("exports")) {
      // [[accounts.exports]] stream = "subj" or service = "subj"
      ExportConfig ex;
      ex.service = x.Has("service");
      ex.subject = x.Required<std::string>(ex.service ? "service" : "stream");
      ex.accounts = x.Optional<std::vector<std::string>>("accounts", {});
      ac.exports.push_back(std::move(ex));
    }
    for (const config::Table& x : a.TableArray("imports")) {
      // [[accounts.imports]] stream = "subj" (or service = "subj"), account, prefix / to
      ImportConfig im;
      im.service = x.Has("service");
      im.subject = x.Required<std::string>(im.service ? "service" : "stream");
      im.account = x.Required<std::string>("account");
      if (im.service) {
        im.to = x.Optional<std::string>("to", "");
      } else {
        im.prefix = x.Optional<std::string>("prefix", "");
      }
      ac.imports.push_back(std::move(im));
    }
    for (const config::Table& m : a.TableArray("mappings")) {
      MappingConfig mc;
      mc.source = m.Required<std::string>("source");
      if (auto to = m.Get<std::string>("destination")) {
        mc.destinations.push_back({*to, 100, ""});
      }
      for (const config::Table& d : m.TableArray("destinations")) {
        subject::MappingDestination md;
        md.subject = d.Required<std::string>("subject");
        md.weight = d.Optional<int>("weight", 100);
        md.cluster = d.Optional<std::string>("cluster", "");
        mc.destinations.push_back(std::move(md));
      }
      if (mc.destinations.empty()) {
        m.Fail("destination", "a mapping needs a destination or [[destinations]]");
      }
      ac.mappings.push_back(std::move(mc));
    }
    o.accounts.push_back(std::move(ac));
  }
  if (auto js = root.GetTable("jetstream")) ApplyJetStream(*js, o.jetstream);
  if (auto t = root.GetTable("tls")) {
    o.tls.enabled = true;
    o.tls.cert_file = t->Required<std::string>("cert_file");
    o.tls.key_file = t->Required<std::string>("key_file");
    o.tls.ca_file = t->Optional<std::string>("ca_file", "");
    o.tls.verify = t->Optional<bool>("verify", false);
    if (auto v = t->Get<std::chrono::nanoseconds>("timeout")) o.tls.timeout = Ms(*v);
    // TLS first (nats-server's handshake_first); a fallback duration lets clients that wait
    // for INFO connect too (nats.conf's "auto" is "50ms").
    o.tls.handshake_first = t->Optional<bool>("handshake_first", false);
    if (auto v = t->Get<std::chrono::nanoseconds>("handshake_first_fallback")) {
      o.tls.handshake_first_fallback = Ms(*v);
    }
  }
  // [leafnodes] reconnect = "1s"; [[leafnodes.remotes]] urls = [...] (or url), account.
  if (auto ln = root.GetTable("leafnodes")) {
    if (auto v = ln->Get<std::chrono::nanoseconds>("reconnect")) o.leafnodes.reconnect = Ms(*v);
    o.leafnodes.host = ln->Optional<std::string>("host", o.leafnodes.host);
    o.leafnodes.port = ln->Optional<int>("port", o.leafnodes.port);
    o.leafnodes.tls_cert_file = ln->Optional<std::string>("tls_cert_file", "");
    o.leafnodes.tls_key_file = ln->Optional<std::string>("tls_key_file", "");
    o.leafnodes.tls_ca_file = ln->Optional<std::string>("tls_ca_file", "");
    o.leafnodes.tls_verify = ln->Optional<bool>("tls_verify", false);
    o.leafnodes.tls = !o.leafnodes.tls_cert_file.empty();
    if (o.leafnodes.port < -1 || o.leafnodes.port > 65535) {
      ln->Fail("port", "a leafnode port is 0 to 65535");
    }
    for (const config::Table& r : ln->TableArray("remotes")) {
      LeafRemoteOptions remote;
      remote.urls = r.Optional<std::vector<std::string>>("urls", {});
      if (auto u = r.Get<std::string>("url")) remote.urls.push_back(*u);
      remote.account = r.Optional<std::string>("account", "");
      remote.deny_imports = r.Optional<std::vector<std::string>>("deny_imports", {});
      remote.deny_exports = r.Optional<std::vector<std::string>>("deny_exports", {});
      remote.tls_ca_file = r.Optional<std::string>("tls_ca_file", "");
      remote.tls_cert_file = r.Optional<std::string>("tls_cert_file", "");
      remote.tls_key_file = r.Optional<std::string>("tls_key_file", "");
      remote.tls =
          r.Optional<bool>("tls", !remote.tls_ca_file.empty() || !remote.tls_cert_file.empty());
      if (remote.urls.empty()) r.Fail("urls", "a leaf remote needs url or urls");
      for (const auto& u : remote.urls) {
        std::string why = ValidateLeafUrl(u);
        if (!why.empty()) r.Fail("urls", why);
      }
      o.leafnodes.remotes.push_back(std::move(remote));
    }
  }
  for (const config::Table& u : root.TableArray("users")) {
    User user;
    user.name = u.Required<std::string>("user");
    user.nkey = u.Optional<std::string>("nkey", "");
    if (!user.nkey.empty() && !IsPublicUserNkey(user.nkey)) {
      u.Fail("nkey", "\"" + user.nkey + "\" is not a public user nkey (U...)");
    }
    user.password = user.nkey.empty() ? u.Required<std::string>("password")
                                      : u.Optional<std::string>("password", "");
    user.account = u.Optional<std::string>("account", "");
    using V = std::vector<std::string>;
    user.permissions.publish.allow = u.Optional<V>("publish_allow", {});
    user.permissions.publish.deny = u.Optional<V>("publish_deny", {});
    user.permissions.subscribe.allow = u.Optional<V>("subscribe_allow", {});
    user.permissions.subscribe.deny = u.Optional<V>("subscribe_deny", {});
    bool known = user.account.empty();
    for (const auto& ac : o.accounts) known = known || ac.name == user.account;
    if (!known) u.Fail("account", "account \"" + user.account + "\" is not in [[accounts]]");
    o.users.push_back(std::move(user));
  }
  doc.Finish();
}

}  // namespace

void LoadConfigFile(const std::string& path, Options& options) {
  auto doc = config::Document::FromFile(path);
  Apply(doc, options);
}

void LoadConfigText(const std::string& text, const std::string& name, Options& options) {
  auto doc = config::Document::FromString(text, name);
  Apply(doc, options);
}

}  // namespace meridian::server
