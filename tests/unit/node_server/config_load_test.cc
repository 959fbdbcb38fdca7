#include "server/config_load.h"

#include <gtest/gtest.h>

#include "config/reader.h"

namespace meridian::server {
namespace {

TEST(ConfigLoad, ReadsLimitsAndPorts) {
  Options o;
  LoadConfigText("port = 5222\nhttp_port = 9222\nmax_payload = \"2MiB\"\nping_interval = \"10s\"\n",
                 "n.toml", o);
  EXPECT_EQ(o.port, 5222);
  EXPECT_EQ(o.http_port, 9222);
  EXPECT_EQ(o.max_payload, 2u * 1024 * 1024);
  EXPECT_EQ(o.ping_interval, std::chrono::seconds(10));
  EXPECT_EQ(o.write_deadline, std::chrono::seconds(10));
  LoadConfigText("write_deadline = \"2s\"\n", "n.toml", o);
  EXPECT_EQ(o.write_deadline, std::chrono::seconds(2));
}

TEST(ConfigLoad, ReadsLeafNodeRemotes) {
  Options o;
  LoadConfigText(R"(
[leafnodes]
reconnect = "2s"
[[leafnodes.remotes]]
urls = ["nats-leaf://127.0.0.1:7422"]
account = "APP"
[[leafnodes.remotes]]
url = "nats-leaf://u:p@hub:7000"
)",
                 "n.toml", o);
  ASSERT_EQ(o.leafnodes.remotes.size(), 2u);
  EXPECT_EQ(o.leafnodes.reconnect, std::chrono::seconds(2));
  EXPECT_EQ(o.leafnodes.remotes[0].account, "APP");
  EXPECT_EQ(o.leafnodes.remotes[1].urls, std::vector<std::string>{"nats-leaf://u:p@hub:7000"});
  Options bad;
  EXPECT_THROW(LoadConfigText("[[leafnodes.remotes]]\nurls = [\"ws://h:1\"]\n", "n.toml", bad),
               config::ConfigError);
}

TEST(ConfigLoad, ReadsUsersAccountsPermissionsAndMappings) {
  Options o;
  LoadConfigText(R"(
[[accounts]]
name = "APP"
[[accounts.mappings]]
source = "a.*"
[[accounts.mappings.destinations]]
subject = "b.{{wildcard(1)}}"
weight = 40
[[users]]
user = "app"
password = "pw"
account = "APP"
publish_allow = ["a.>"]
)",
                 "n.toml", o);
  ASSERT_EQ(o.users.size(), 1u);
  EXPECT_EQ(o.users[0].account, "APP");
  EXPECT_EQ(o.users[0].permissions.publish.allow, std::vector<std::string>{"a.>"});
  ASSERT_EQ(o.accounts.size(), 1u);
  ASSERT_EQ(o.accounts[0].mappings.size(), 1u);
  EXPECT_EQ(o.accounts[0].mappings[0].destinations[0].weight, 40);
}

TEST(ConfigLoad, UnknownKeyIsAnErrorNamingIt) {
  Options o;
  try {
    LoadConfigText("port = 1\nmax_paylod = 5\n", "n.toml", o);
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("max_paylod"), std::string::npos) << e.what();
  }
}

TEST(ConfigLoad, BcryptPasswordHashAndNoAuthUserAreRead) {
  Options o;
  LoadConfigText(
      "no_auth_user = \"u\"\n[[users]]\nuser = \"u\"\n"
      "password = \"$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO\"\n",
      "n.toml", o);
  ASSERT_EQ(o.users.size(), 1u);
  EXPECT_EQ(o.users[0].password, "$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO");
  EXPECT_EQ(o.no_auth_user, "u");
}

TEST(ConfigLoad, ReadsExportsAndImports) {
  Options o;
  LoadConfigText(R"(
[[accounts]]
name = "SVC"
[[accounts.exports]]
stream = "events.>"
[[accounts.exports]]
service = "time.now"
accounts = ["APP"]
[[accounts]]
name = "APP"
[[accounts.imports]]
stream = "events.>"
account = "SVC"
prefix = "svc"
[[accounts.imports]]
service = "time.now"
account = "SVC"
to = "now"
)",
                 "n.toml", o);
  ASSERT_EQ(o.accounts.size(), 2u);
  ASSERT_EQ(o.accounts[0].exports.size(), 2u);
  EXPECT_TRUE(o.accounts[0].exports[1].service);
  EXPECT_EQ(o.accounts[0].exports[1].accounts, std::vector<std::string>{"APP"});
  ASSERT_EQ(o.accounts[1].imports.size(), 2u);
  EXPECT_EQ(o.accounts[1].imports[0].prefix, "svc");
  EXPECT_EQ(o.accounts[1].imports[1].to, "now");
}

TEST(ConfigLoad, ReadsTlsWithHandshakeFirstAndItsFallback) {
  Options o;
  LoadConfigText(
      "[tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\nhandshake_first = true\n"
      "handshake_first_fallback = \"50ms\"\n",
      "n.toml", o);
  EXPECT_TRUE(o.tls.enabled);
  EXPECT_TRUE(o.tls.handshake_first);
  EXPECT_EQ(o.tls.handshake_first_fallback, std::chrono::milliseconds(50));
}

TEST(ConfigLoad, UserOfUnknownAccountIsRefused) {
  Options o;
  EXPECT_THROW(LoadConfigText("[[users]]\nuser = \"u\"\npassword = \"p\"\naccount = \"NOPE\"\n",
                              "n.toml", o),
               config::ConfigError);
}

}  // namespace
}  // namespace meridian::server
