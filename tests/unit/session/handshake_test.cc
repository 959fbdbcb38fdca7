#include "session/handshake.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace meridian::session {
namespace {

using Json = nlohmann::json;

constexpr const char* kClusterInfo =
    R"({"server_id":"NABC","server_name":"west-1","version":"2.9.10","proto":1,"host":"0.0.0.0",)"
    R"("port":4222,"headers":true,"max_payload":1048576,"jetstream":true,"client_id":7,)"
    R"("client_ip":"10.0.0.9","nonce":"abcdefghijklmno","cluster":"west","tls_required":true,)"
    R"("tls_verify":true,"connect_urls":["10.0.0.1:4222","10.0.0.2:4222"],)"
    R"("ws_connect_urls":["10.0.0.1:8080"],"ldm":true,"auth_required":true,"future":{"x":1}})";

InfoAdjustment Sidecar() {
  InfoAdjustment a;
  a.host = "127.0.0.1";
  a.port = 4222;
  a.client_ip = "127.0.0.1";
  return a;
}

TEST(AdjustInfo, RemovesEveryWayAroundTheSidecar) {
  Json j = Json::parse(*AdjustInfo(kClusterInfo, Sidecar()));
  EXPECT_FALSE(j.contains("connect_urls"));
  EXPECT_FALSE(j.contains("ws_connect_urls"));
  EXPECT_FALSE(j.contains("ldm"));
}

TEST(AdjustInfo, DescribesThePlaintextListenerOfTheSidecar) {
  Json j = Json::parse(*AdjustInfo(kClusterInfo, Sidecar()));
  EXPECT_FALSE(j.contains("tls_required"));
  EXPECT_FALSE(j.contains("tls_verify"));
  EXPECT_EQ(j["host"], "127.0.0.1");
  EXPECT_EQ(j["port"], 4222);
  EXPECT_EQ(j["client_ip"], "127.0.0.1");
}

TEST(AdjustInfo, KeepsNonceVersionHeadersPayloadAndUnknownFields) {
  Json j = Json::parse(*AdjustInfo(kClusterInfo, Sidecar()));
  EXPECT_EQ(j["nonce"], "abcdefghijklmno");
  EXPECT_EQ(j["version"], "2.9.10");
  EXPECT_EQ(j["headers"], true);
  EXPECT_EQ(j["max_payload"], 1048576);
  EXPECT_EQ(j["server_name"], "west-1");
  EXPECT_EQ(j["future"]["x"], 1);
  EXPECT_EQ(j["auth_required"], true);
}

TEST(AdjustInfo, DropsAuthRequiredWhenTheSidecarSuppliesCredentials) {
  InfoAdjustment a = Sidecar();
  a.credentials_supplied = true;
  Json j = Json::parse(*AdjustInfo(kClusterInfo, a));
  EXPECT_FALSE(j.contains("auth_required"));
}

TEST(AdjustInfo, RefusesTextThatIsNotAJsonObject) {
  EXPECT_FALSE(AdjustInfo("{not json", Sidecar()));
  EXPECT_FALSE(AdjustInfo("[1,2]", Sidecar()));
}

TEST(ReadUpstreamInfo, ReadsClusterPayloadLimitAndTls) {
  UpstreamInfo info = *ReadUpstreamInfo(kClusterInfo);
  EXPECT_EQ(info.cluster, "west");
  EXPECT_EQ(info.max_payload, 1048576u);
  EXPECT_TRUE(info.tls_required);
  EXPECT_TRUE(info.has_nonce);
  EXPECT_TRUE(info.headers);
}

TEST(RewriteConnect, TracksTheClientOptions) {
  ConnectRewrite r = *RewriteConnect(
      R"({"verbose":true,"pedantic":false,"echo":false,"headers":true,"no_responders":true,)"
      R"("protocol":1})",
      {});
  EXPECT_TRUE(r.options.verbose);
  EXPECT_FALSE(r.options.pedantic);
  EXPECT_FALSE(r.options.echo);
  EXPECT_TRUE(r.options.headers);
  EXPECT_TRUE(r.options.no_responders);
  EXPECT_EQ(r.options.protocol, 1);
}

TEST(RewriteConnect, UsesServerDefaultsForAbsentOptions) {
  ConnectRewrite r = *RewriteConnect("{}", {});
  EXPECT_TRUE(r.options.verbose);
  EXPECT_TRUE(r.options.echo);
  EXPECT_FALSE(r.options.headers);
}

TEST(RewriteConnect, AsksTheUpstreamForNoOkSinceTheSidecarAnswersThem) {
  Json j = Json::parse(RewriteConnect(R"({"verbose":true})", {})->upstream_json);
  EXPECT_EQ(j["verbose"], false);
}

TEST(RewriteConnect, ForwardsTheClientsCredentialsWhenTheSidecarHasNone) {
  Json j = Json::parse(
      RewriteConnect(R"({"user":"a","pass":"b","nkey":"UABC","sig":"xyz"})", {})->upstream_json);
  EXPECT_EQ(j["user"], "a");
  EXPECT_EQ(j["pass"], "b");
  EXPECT_EQ(j["nkey"], "UABC");
  EXPECT_EQ(j["sig"], "xyz");
}

TEST(RewriteConnect, ReplacesEveryClientCredentialWithTheSidecars) {
  UpstreamCredentials creds{"svc", "pw", ""};
  Json j = Json::parse(
      RewriteConnect(R"({"user":"a","pass":"b","auth_token":"t","jwt":"J","nkey":"U","sig":"s",)"
                     R"("name":"app"})",
                     creds)
          ->upstream_json);
  EXPECT_EQ(j["user"], "svc");
  EXPECT_EQ(j["pass"], "pw");
  EXPECT_FALSE(j.contains("auth_token"));
  EXPECT_FALSE(j.contains("jwt"));
  EXPECT_FALSE(j.contains("nkey"));
  EXPECT_FALSE(j.contains("sig"));
  EXPECT_EQ(j["name"], "app");
}

TEST(RewriteConnect, InjectsATokenForClientsThatSentNoCredentials) {
  Json j = Json::parse(RewriteConnect(R"({"lang":"go"})", {"", "", "tok"})->upstream_json);
  EXPECT_EQ(j["auth_token"], "tok");
  EXPECT_FALSE(j.contains("user"));
}

}  // namespace
}  // namespace meridian::session
