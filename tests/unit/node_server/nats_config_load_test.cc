#include "server/nats_config_load.h"

#include <gtest/gtest.h>

#include "config/reader.h"
#include "server/leafnode.h"

namespace meridian::server {
namespace {

std::string ErrorOf(std::string_view text) {
  Options o;
  try {
    LoadNatsConfigText(text, "n.conf", o);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(NatsConfigLoad, ReadsListenHttpAndLimits) {
  Options o;
  NatsConfProgram p;
  LoadNatsConfigText(
      "listen: 127.0.0.1:5222\nhttp: \"127.0.0.1:9222\"\nserver_name: n1\nmax_payload: 2MB\n"
      "max_connections: 10\nmax_control_line: 2KB\nping_interval: \"10s\"\nping_max: 3\n"
      "debug: true\nlogfile: /tmp/x.log\npid_file: /tmp/x.pid\n",
      "n.conf", o, &p);
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 5222);
  EXPECT_EQ(o.http_host, "127.0.0.1");
  EXPECT_EQ(o.http_port, 9222);
  EXPECT_EQ(o.server_name, "n1");
  EXPECT_EQ(o.max_payload, 2u * 1024 * 1024);
  EXPECT_EQ(o.max_connections, 10);
  EXPECT_EQ(o.max_control_line, 2048u);
  EXPECT_EQ(o.ping_interval, std::chrono::seconds(10));
  EXPECT_EQ(o.ping_max, 3);
  EXPECT_EQ(p.debug, true);
  EXPECT_EQ(p.log_file, "/tmp/x.log");
  EXPECT_EQ(p.pid_file, "/tmp/x.pid");
}

TEST(NatsConfigLoad, WriteDeadlineAsADurationOrSeconds) {
  Options o;
  EXPECT_EQ(o.write_deadline, std::chrono::seconds(10));  // nats-server's default
  LoadNatsConfigText("write_deadline: \"1500ms\"\n", "n.conf", o);
  EXPECT_EQ(o.write_deadline, std::chrono::milliseconds(1500));
  LoadNatsConfigText("write_deadline: 3\n", "n.conf", o);
  EXPECT_EQ(o.write_deadline, std::chrono::seconds(3));
}

TEST(NatsConfigLoad, TlsHandshakeFirstFormsAsNatsServer) {
  auto load = [](const std::string& value) {
    Options o;
    LoadNatsConfigText("tls { cert_file: c.pem, key_file: k.pem, handshake_first: " + value +
                           " }\n",
                       "n.conf", o);
    return std::make_pair(o.tls.handshake_first, o.tls.handshake_first_fallback.count());
  };
  EXPECT_EQ(load("true"), std::make_pair(true, int64_t{0}));
  EXPECT_EQ(load("false"), std::make_pair(false, int64_t{0}));
  EXPECT_EQ(load("\"on\""), std::make_pair(true, int64_t{0}));
  EXPECT_EQ(load("\"off\""), std::make_pair(false, int64_t{0}));
  EXPECT_EQ(load("auto"), std::make_pair(true, int64_t{50}));
  EXPECT_EQ(load("\"auto_fallback\""), std::make_pair(true, int64_t{50}));
  EXPECT_EQ(load("\"300ms\""), std::make_pair(true, int64_t{300}));
  Options o;
  LoadNatsConfigText("tls { cert_file: c.pem, key_file: k.pem, first: true }\n", "n.conf", o);
  EXPECT_TRUE(o.tls.handshake_first);
  EXPECT_NE(ErrorOf("tls { cert_file: c.pem, key_file: k.pem, handshake_first: sometimes }\n")
                .find("handshake_first"),
            std::string::npos);
}

TEST(NatsConfigLoad, PortAndHttpPortAsNumbers) {
  Options o;
  LoadNatsConfigText("host: 0.0.0.0\nport: 4333\nhttp_port: 8333\nping_interval: 30\n", "n.conf",
                     o);
  EXPECT_EQ(o.port, 4333);
  EXPECT_EQ(o.http_port, 8333);
  EXPECT_EQ(o.ping_interval, std::chrono::seconds(30));
}

TEST(NatsConfigLoad, AuthorizationUsersWithPermissionForms) {
  Options o;
  LoadNatsConfigText(R"(
authorization {
  timeout: 3
  users = [
    {user: app, password: app}
    {user: limited, password: pw, permissions: {publish: {allow: ["allowed.>"]}, subscribe: {deny: "secret.>"}}}
    {user: short, password: pw, permissions: {pub: "a.b", sub: ["c", "d"]}}
  ]
}
)",
                     "n.conf", o);
  ASSERT_EQ(o.users.size(), 3u);
  EXPECT_EQ(o.auth_timeout, std::chrono::seconds(3));
  EXPECT_TRUE(o.users[0].permissions.empty());
  EXPECT_EQ(o.users[1].permissions.publish.allow, std::vector<std::string>{"allowed.>"});
  EXPECT_EQ(o.users[1].permissions.subscribe.deny, std::vector<std::string>{"secret.>"});
  EXPECT_EQ(o.users[2].permissions.publish.allow, std::vector<std::string>{"a.b"});
  EXPECT_EQ(o.users[2].permissions.subscribe.allow, (std::vector<std::string>{"c", "d"}));
}

TEST(NatsConfigLoad, SingleUserAndToken) {
  Options o;
  LoadNatsConfigText("authorization { user: a, password: b }\n", "n.conf", o);
  ASSERT_EQ(o.users.size(), 1u);
  EXPECT_EQ(o.users[0].name, "a");
  EXPECT_EQ(o.users[0].password, "b");
  Options t;
  LoadNatsConfigText("authorization { token: \"s3cret\" }\n", "n.conf", t);
  EXPECT_EQ(t.token, "s3cret");
}

TEST(NatsConfigLoad, AccountsWithUsersJetStreamAndMappings) {
  Options o;
  LoadNatsConfigText(R"(
accounts {
  APP: {
    jetstream: enabled
    users: [{user: app, password: app}]
    mappings: {
      "orders.*": "orders.east.{{wildcard(1)}}"
      "split": [{destination: "a", weight: 40%}, {destination: "b", weight: 60, cluster: east}]
    }
  }
  SYS: {users: [{user: sys, password: sys}]}
}
system_account: SYS
no_auth_user: app
mappings { "x": "y" }
)",
                     "n.conf", o);
  ASSERT_EQ(o.users.size(), 2u);
  EXPECT_EQ(o.users[0].account, "APP");
  EXPECT_EQ(o.users[1].account, "SYS");
  EXPECT_EQ(o.system_account, "SYS");
  EXPECT_EQ(o.no_auth_user, "app");
  const AccountConfig* app = nullptr;
  const AccountConfig* global = nullptr;
  for (const auto& a : o.accounts) {
    if (a.name == "APP") app = &a;
    if (a.name == kGlobalAccount) global = &a;
  }
  ASSERT_NE(app, nullptr);
  ASSERT_NE(global, nullptr);
  EXPECT_TRUE(app->jetstream);
  ASSERT_EQ(app->mappings.size(), 2u);
  EXPECT_EQ(app->mappings[0].destinations[0].subject, "orders.east.{{wildcard(1)}}");
  ASSERT_EQ(app->mappings[1].destinations.size(), 2u);
  EXPECT_EQ(app->mappings[1].destinations[0].weight, 40);
  EXPECT_EQ(app->mappings[1].destinations[1].cluster, "east");
  ASSERT_EQ(global->mappings.size(), 1u);
}

TEST(NatsConfigLoad, JetStreamBlock) {
  Options o;
  LoadNatsConfigText(
      "jetstream {\n  store_dir: \"/data/js\"\n  max_mem: 1G\n  max_file_store: \"2G\"\n  "
      "domain: hub\n}\n",
      "n.conf", o);
  EXPECT_TRUE(o.jetstream.enabled);
  EXPECT_EQ(o.jetstream.store_dir, "/data/js");
  EXPECT_EQ(o.jetstream.max_memory, 1000LL * 1000 * 1000);
  EXPECT_EQ(o.jetstream.max_file, 2LL << 30);
  EXPECT_EQ(o.jetstream.domain, "hub");
  Options off;
  LoadNatsConfigText("jetstream: disabled\n", "n.conf", off);
  EXPECT_FALSE(off.jetstream.enabled);
}

TEST(NatsConfigLoad, ClusterBlockWithOnlyANameSetsTheClusterName) {
  Options o;
  LoadNatsConfigText("cluster {\n  name: west\n}\n", "n.conf", o);
  EXPECT_EQ(o.cluster_name, "west");
  EXPECT_TRUE(ErrorOf("cluster { name: west }\n").empty());
}

TEST(NatsConfigLoad, ClusterRoutesAndListenAreRefusedNamingKeyAndLine) {
  std::string err = ErrorOf("cluster {\n  name: west\n  routes: [\"nats://127.0.0.1:6222\"]\n}\n");
  EXPECT_NE(err.find("n.conf:3"), std::string::npos) << err;
  EXPECT_NE(err.find("cluster.routes"), std::string::npos) << err;
  EXPECT_NE(err.find("not supported yet"), std::string::npos) << err;
  err = ErrorOf("cluster {\n  listen: 127.0.0.1:6222\n}\n");
  EXPECT_NE(err.find("cluster.listen"), std::string::npos) << err;
  EXPECT_NE(err.find("not supported yet"), std::string::npos) << err;
  EXPECT_NE(ErrorOf("cluster: west\n").find("must be a block"), std::string::npos);
}

TEST(NatsConfigLoad, LeafNodeRemotes) {
  Options o;
  LoadNatsConfigText(
      "accounts { APP: {} }\nleafnodes {\n  reconnect: \"250ms\"\n  remotes: [\n"
      "    { url: \"nats-leaf://u:p@hub.example:7422\", account: APP }\n"
      "    { urls: [\"nats-leaf://10.0.0.1:7000\", \"nats://10.0.0.2\"] }\n  ]\n}\n",
      "n.conf", o);
  ASSERT_EQ(o.leafnodes.remotes.size(), 2u);
  EXPECT_EQ(o.leafnodes.reconnect, std::chrono::milliseconds(250));
  EXPECT_EQ(o.leafnodes.remotes[0].account, "APP");
  ASSERT_EQ(o.leafnodes.remotes[0].urls.size(), 1u);
  ASSERT_EQ(o.leafnodes.remotes[1].urls.size(), 2u);
  EXPECT_EQ(o.leafnodes.remotes[1].account, "");
  LeafUrl u;
  ASSERT_TRUE(ParseLeafUrl(o.leafnodes.remotes[0].urls[0], u, nullptr));
  EXPECT_EQ(u.host, "hub.example");
  EXPECT_EQ(u.port, 7422);
  EXPECT_EQ(u.user, "u");
  EXPECT_EQ(u.password, "p");
  ASSERT_TRUE(ParseLeafUrl("nats://10.0.0.2", u, nullptr));
  EXPECT_EQ(u.port, 7422);
  EXPECT_TRUE(u.user.empty());
}

TEST(NatsConfigLoad, LeafNodeSettingsNotSupportedAreRefused) {
  Options o;
  LoadNatsConfigText("leafnodes {\n  listen: 127.0.0.1:7422\n}\n", "n.conf", o);
  EXPECT_EQ(o.leafnodes.host, "127.0.0.1");
  EXPECT_EQ(o.leafnodes.port, 7422);
  std::string err = ErrorOf("leafnodes {\n  port: 7422\n  authorization { user: a }\n}\n");
  EXPECT_NE(err.find("n.conf:3"), std::string::npos) << err;
  EXPECT_NE(err.find("not supported yet"), std::string::npos) << err;
  err = ErrorOf("leafnodes { remotes: [ { url: \"ws://h:1\" } ] }\n");
  EXPECT_NE(err.find("WebSocket"), std::string::npos) << err;
  Options t;
  LoadNatsConfigText(
      "leafnodes { port: 7422, tls { cert_file: c.pem, key_file: k.pem, verify: true },\n"
      "  remotes: [ { url: \"tls://h:1\", tls { ca_file: ca.pem } } ] }\n",
      "n.conf", t);
  EXPECT_TRUE(t.leafnodes.tls);
  EXPECT_EQ(t.leafnodes.tls_cert_file, "c.pem");
  EXPECT_TRUE(t.leafnodes.tls_verify);
  ASSERT_EQ(t.leafnodes.remotes.size(), 1u);
  EXPECT_TRUE(t.leafnodes.remotes[0].tls);
  EXPECT_EQ(t.leafnodes.remotes[0].tls_ca_file, "ca.pem");
  Options d;
  LoadNatsConfigText(
      "leafnodes { remotes: [ { url: \"h:1\", deny_imports: \"a.>\", deny_exports: [b, c] } ] }\n",
      "n.conf", d);
  ASSERT_EQ(d.leafnodes.remotes.size(), 1u);
  EXPECT_EQ(d.leafnodes.remotes[0].deny_imports, std::vector<std::string>{"a.>"});
  EXPECT_EQ(d.leafnodes.remotes[0].deny_exports, (std::vector<std::string>{"b", "c"}));
  err = ErrorOf("leafnodes { remotes: [ { url: \"h:1\", tls { insecure: true } } ] }\n");
  EXPECT_NE(err.find("tls.insecure"), std::string::npos) << err;
  err = ErrorOf("leafnodes { remotes: [ { url: \"nats-leaf://h:99999\" } ] }\n");
  EXPECT_NE(err.find("port"), std::string::npos) << err;
  err =
      ErrorOf("leafnodes { remotes: [ { url: \"nats-leaf://h\", credentials: \"x.creds\" } ] }\n");
  EXPECT_NE(err.find("credentials"), std::string::npos) << err;
  err = ErrorOf("leafnodes { remotes: [ { account: A } ] }\n");
  EXPECT_NE(err.find("needs url"), std::string::npos) << err;
}

TEST(NatsConfigLoad, TlsBlock) {
  Options o;
  LoadNatsConfigText(
      "tls {\n  cert_file: \"/c.pem\"\n  key_file: \"/k.pem\"\n  ca_file: \"/ca.pem\"\n"
      "  verify: true\n  timeout: 3\n}\n",
      "n.conf", o);
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_EQ(o.tls.cert_file, "/c.pem");
  EXPECT_EQ(o.tls.key_file, "/k.pem");
  EXPECT_EQ(o.tls.ca_file, "/ca.pem");
  EXPECT_TRUE(o.tls.verify);
  EXPECT_EQ(o.tls.timeout, std::chrono::seconds(3));
  EXPECT_NE(ErrorOf("tls { ca_file: x }\n").find("cert_file and key_file"), std::string::npos);
}

TEST(NatsConfigLoad, ExportsAndImports) {
  Options o;
  LoadNatsConfigText(R"(
accounts {
  SVC: { exports: [{stream: "events.>"}, {service: "time.now", accounts: [APP, X]}] }
  APP: { imports: [
    {stream: {account: SVC, subject: "events.>"}, prefix: "svc"}
    {service: {account: SVC, subject: "time.now"}, to: "now"}
  ] }
}
)",
                     "n.conf", o);
  ASSERT_EQ(o.accounts.size(), 2u);
  ASSERT_EQ(o.accounts[0].exports.size(), 2u);
  EXPECT_FALSE(o.accounts[0].exports[0].service);
  EXPECT_TRUE(o.accounts[0].exports[1].service);
  EXPECT_TRUE(o.accounts[0].exports[0].accounts.empty());
  EXPECT_EQ(o.accounts[0].exports[1].accounts, (std::vector<std::string>{"APP", "X"}));
  ASSERT_EQ(o.accounts[1].imports.size(), 2u);
  EXPECT_EQ(o.accounts[1].imports[0].account, "SVC");
  EXPECT_EQ(o.accounts[1].imports[0].prefix, "svc");
  EXPECT_TRUE(o.accounts[1].imports[1].service);
  EXPECT_EQ(o.accounts[1].imports[1].to, "now");
}

TEST(NatsConfigLoad, VariablesUsedAsValuesAreNotSettings) {
  Options o;
  LoadNatsConfigText("PW: secret\nauthorization { user: a, password: $PW }\n", "n.conf", o);
  EXPECT_EQ(o.users[0].password, "secret");
}

TEST(NatsConfigLoad, UnsupportedSettingsAreRefusedNamingKeyAndLine) {
  std::string err = ErrorOf("port: 4222\n\ncluster {\n  routes: [nats://127.0.0.1:6222]\n}\n");
  EXPECT_NE(err.find("n.conf:4"), std::string::npos) << err;
  EXPECT_NE(err.find("cluster"), std::string::npos) << err;
  EXPECT_NE(err.find("not supported yet"), std::string::npos) << err;
  EXPECT_NE(ErrorOf("websocket { port: 1 }\n").find("WebSocket"), std::string::npos);
  EXPECT_NE(ErrorOf("tls { cert_file: a, key_file: b, cipher_suites: [] }\n").find("cipher_suites"),
            std::string::npos);
  EXPECT_NE(ErrorOf("gateway { name: x }\n").find("gateway"), std::string::npos);
  EXPECT_NE(ErrorOf("leafnodes { tls: {} }\n").find("leaf"), std::string::npos);
  EXPECT_NE(ErrorOf("accounts { A: { exports: [{stream: a, latency: x}] } }\n")
                .find("not supported yet"),
            std::string::npos);
}

TEST(NatsConfigLoad, UnknownSettingIsAnError) {
  std::string err = ErrorOf("prot: 4222\n");
  EXPECT_NE(err.find("n.conf:1"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown setting \"prot\""), std::string::npos) << err;
}

TEST(NatsConfigLoad, EveryProblemIsReportedInOneRun) {
  std::string err = ErrorOf("port: \"x\"\nmax_payload: abc\nbogus: 1\n");
  EXPECT_NE(err.find("n.conf:1"), std::string::npos) << err;
  EXPECT_NE(err.find("n.conf:2"), std::string::npos) << err;
  EXPECT_NE(err.find("n.conf:3"), std::string::npos) << err;
}

TEST(NatsConfigLoad, NoAuthUserMustBeAConfiguredUser) {
  std::string err = ErrorOf("authorization { users: [{user: a, password: b}] }\nno_auth_user: z\n");
  EXPECT_NE(err.find("no_auth_user \"z\" is not a configured user"), std::string::npos) << err;
}

TEST(NatsConfigLoad, TomlIsChosenByExtension) {
  EXPECT_TRUE(IsTomlConfigPath("/etc/meridian/node.toml"));
  EXPECT_FALSE(IsTomlConfigPath("/etc/nats/nats-server.conf"));
  EXPECT_FALSE(IsTomlConfigPath("server.cfg"));
}

}  // namespace
}  // namespace meridian::server
