// nats-server's system services ($SYS.REQ.SERVER.PING, ...) from real clients, against the
// stock nats-server 2.9.10 and meridian-node given the same nats.conf and flags: libnats
// requests as a user of the $SYS account and of an application account, and the `meridian`
// CLI's `server report jetstream`, which asks $SYS.REQ.SERVER.PING.JSZ.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/libnats_ptr.h"
#include "harness/ports.h"
#include "node_world.h"

namespace meridian::node_it {
namespace {

using nlohmann::json;

constexpr const char* kName = "sys-it-1";

using harness::Msg;
using harness::Nc;
using harness::Sub;

std::string Data(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

class SysRequests : public ::testing::TestWithParam<ServerKind> {
 protected:
  void SetUp() override {
    const uint16_t port = harness::FreeLoopbackPort();
    const uint16_t http = harness::FreeLoopbackPort();
    const auto conf = dir_.path() / "sys.conf";
    std::ofstream(conf) << "host: 127.0.0.1\nport: " << port << "\nhttp: \"127.0.0.1:" << http
                        << "\"\njetstream { store_dir: \"" << (dir_.path() / "js").string()
                        << "\" }\naccounts {\n"
                        << "  '$SYS': { users: [{user: sys, password: sys}] }\n"
                        << "  APP: { jetstream: enabled, users: [{user: app, password: app}] }\n"
                        << "}\n";
    // The server name comes from the flag, as `nats-server -n`.
    server_ =
        std::make_unique<TestServer>(GetParam(), dir_.path(), port, http,
                                     std::vector<std::string>{"-c", conf.string(), "-n", kName});
  }

  Nc Connect(const char* user) {
    natsOptions* opts = nullptr;
    natsOptions_Create(&opts);
    natsOptions_SetURL(opts, server_->url().c_str());
    natsOptions_SetAllowReconnect(opts, false);
    natsOptions_SetTimeout(opts, 5000);
    natsOptions_SetUserInfo(opts, user, user);
    natsConnection* nc = nullptr;
    natsStatus s = natsConnection_Connect(&nc, opts);
    natsOptions_Destroy(opts);
    EXPECT_EQ(s, NATS_OK) << "connect as " << user << ": " << natsStatus_GetText(s);
    return Nc(nc);
  }

  // A request's JSON reply (null with a test failure when there is none).
  static json Ask(natsConnection* nc, const std::string& subject, const std::string& body = "") {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, nc, subject.c_str(), body.data(),
                                          static_cast<int>(body.size()), 10000);
    if (s != NATS_OK) {
      ADD_FAILURE() << subject << ": " << natsStatus_GetText(s);
      return nullptr;
    }
    Msg m(reply);
    json j = json::parse(Data(m.get()), nullptr, false);
    EXPECT_TRUE(j.is_object()) << subject << ": " << Data(m.get());
    return j;
  }

  struct CliResult {
    int code = -1;
    std::string out;
  };
  CliResult Cli(const std::string& args) {
    std::string cmd = harness::OurBinary("meridian").string() + " --server " + server_->url() +
                      " --user sys --password sys " + args + " 2>" +
                      (dir_.path() / "cli.err").string();
    CliResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
    int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  }

  harness::TestRunDir dir_;
  std::unique_ptr<TestServer> server_;
};

TEST_P(SysRequests, PingNamesTheServerAndCountsAConnectingClient) {
  Nc sys = Connect("sys");
  json before = Ask(sys.get(), "$SYS.REQ.SERVER.PING");
  EXPECT_EQ(before["server"]["name"], kName) << before;
  EXPECT_EQ(before["server"]["ver"], "2.9.10");
  EXPECT_EQ(before["server"]["jetstream"], true);
  EXPECT_TRUE(before["server"]["id"].is_string());
  EXPECT_EQ(before["statsz"]["connections"], 1) << before;
  EXPECT_TRUE(before["statsz"]["jetstream"].is_object()) << before;
  Nc app = Connect("app");
  json after = Ask(sys.get(), "$SYS.REQ.SERVER.PING.STATSZ");
  EXPECT_EQ(after["statsz"]["connections"], 2) << after;
  EXPECT_GT(after["statsz"]["total_connections"].get<uint64_t>(),
            before["statsz"]["total_connections"].get<uint64_t>());
  EXPECT_GT(after["server"]["seq"].get<uint64_t>(), before["server"]["seq"].get<uint64_t>());
}

TEST_P(SysRequests, DirectRequestsByServerIdAndAFilterThatLeavesTheServerOut) {
  Nc sys = Connect("sys");
  const std::string id = Ask(sys.get(), "$SYS.REQ.SERVER.PING")["server"]["id"];
  json varz = Ask(sys.get(), "$SYS.REQ.SERVER." + id + ".VARZ");
  EXPECT_EQ(varz["data"]["server_name"], kName) << varz;
  EXPECT_EQ(varz["data"]["server_id"], id);
  EXPECT_TRUE(varz["data"]["jetstream"].is_object()) << varz;
  // Typed as nats-server types them (Go clients such as the nats CLI decode VARZ into its
  // struct): durations are integers, never strings.
  for (const char* duration : {"ping_interval", "write_deadline"}) {
    EXPECT_TRUE(varz["data"][duration].is_number_integer()) << duration << ": " << varz;
  }
  const json& js_config = varz["data"]["jetstream"]["config"];
  EXPECT_TRUE(!js_config.contains("sync_interval") || js_config["sync_interval"].is_number())
      << js_config;
  EXPECT_EQ(Ask(sys.get(), "$SYS.REQ.SERVER." + id + ".HEALTHZ")["data"]["status"], "ok");
  // A VARZ ping filtered to another server name, then a HEALTHZ ping, on one inbox: the only
  // reply is the HEALTHZ one (the server handles one connection's requests in order).
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&raw, sys.get(), "_INBOX.sys-it"), NATS_OK);
  Sub inbox(raw);
  const std::string filter = R"({"server_name":"another-server"})";
  ASSERT_EQ(natsConnection_PublishRequest(sys.get(), "$SYS.REQ.SERVER.PING.VARZ", "_INBOX.sys-it",
                                          filter.data(), static_cast<int>(filter.size())),
            NATS_OK);
  ASSERT_EQ(natsConnection_PublishRequest(sys.get(), "$SYS.REQ.SERVER.PING.HEALTHZ",
                                          "_INBOX.sys-it", "", 0),
            NATS_OK);
  natsMsg* first = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&first, inbox.get(), 10000), NATS_OK);
  Msg m(first);
  EXPECT_EQ(json::parse(Data(m.get()))["data"]["status"], "ok") << Data(m.get());
  ASSERT_EQ(natsConnection_FlushTimeout(sys.get(), 10000), NATS_OK);
  int pending = 0;
  natsSubscription_GetPending(inbox.get(), &pending, nullptr);
  EXPECT_EQ(pending, 0);
}

TEST_P(SysRequests, JszAndTheCliReportCountAStreamAnAccountCreated) {
  Nc sys = Connect("sys");
  Nc app = Connect("app");
  EXPECT_EQ(Ask(sys.get(), "$SYS.REQ.SERVER.PING.JSZ")["data"]["streams"], 0);
  json created = Ask(app.get(), "$JS.API.STREAM.CREATE.ORDERS",
                     R"({"name":"ORDERS","subjects":["orders.>"],"storage":"file"})");
  ASSERT_FALSE(created.contains("error")) << created;
  for (int i = 0; i < 3; ++i) {  // stored once the PubAck comes back
    json ack = Ask(app.get(), "orders.new", "order");
    ASSERT_EQ(ack["stream"], "ORDERS") << ack;
  }
  json jsz = Ask(sys.get(), "$SYS.REQ.SERVER.PING.JSZ");
  EXPECT_EQ(jsz["server"]["name"], kName);
  EXPECT_EQ(jsz["data"]["streams"], 1) << jsz;
  EXPECT_EQ(jsz["data"]["messages"], 3) << jsz;
  // One account's details, by name.
  json detail = Ask(sys.get(), "$SYS.REQ.SERVER.PING.JSZ", R"({"account":"APP"})");
  ASSERT_EQ(detail["data"]["account_details"].size(), 1u) << detail;
  EXPECT_EQ(detail["data"]["account_details"][0]["name"], "APP");
  EXPECT_GE(detail["data"]["account_details"][0]["api"]["total"].get<uint64_t>(), 1u) << detail;
  EXPECT_GT(detail["data"]["account_details"][0]["storage"].get<uint64_t>(), 0u) << detail;
  json by_subject = Ask(sys.get(), "$SYS.REQ.ACCOUNT.APP.JSZ", R"({"streams":true})");
  EXPECT_EQ(by_subject["data"]["name"], "APP") << by_subject;
  ASSERT_EQ(by_subject["data"]["stream_detail"].size(), 1u) << by_subject;
  const json& stream = by_subject["data"]["stream_detail"][0];
  EXPECT_EQ(stream["name"], "ORDERS") << stream;
  EXPECT_EQ(stream["state"]["messages"], 3) << stream;
  EXPECT_FALSE(stream.contains("config")) << stream;
  json with_config = Ask(sys.get(), "$SYS.REQ.SERVER.PING.JSZ",
                         R"({"accounts":true,"streams":true,"config":true})");
  bool found = false;
  for (const auto& a : with_config["data"]["account_details"]) {
    if (a["name"] != "APP") continue;
    found = true;
    ASSERT_EQ(a["stream_detail"].size(), 1u) << a;
    EXPECT_EQ(a["stream_detail"][0]["config"]["subjects"][0], "orders.>") << a;
  }
  EXPECT_TRUE(found) << with_config;
  // The meridian CLI, unchanged, against either server.
  CliResult report = Cli("server report jetstream --json");
  ASSERT_EQ(report.code, 0) << report.out;
  json r = json::parse(report.out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << report.out;
  ASSERT_EQ(r["servers"].size(), 1u) << report.out;
  EXPECT_EQ(r["servers"][0]["name"], kName);
  EXPECT_EQ(r["servers"][0]["streams"], 1);
  EXPECT_EQ(r["servers"][0]["messages"], 3);
  CliResult table = Cli("server report jetstream");
  EXPECT_EQ(table.code, 0);
  EXPECT_NE(table.out.find(kName), std::string::npos) << table.out;
}

// The figures monitoring shows for the same set-up: VARZ/JSZ config.store_dir is the store
// directory + "/jetstream"; JSZ counts only the accounts with JetStream (APP, not $G once
// accounts are configured); a stream's bytes are nats-server 2.9.10's per-message sizes (file:
// 30 + subject + payload, 34 + subject + headers + payload with headers; memory: 16 + subject
// + headers + payload), and discard new with max_bytes refuses and trims as the stock server.
TEST_P(SysRequests, StoreDirAccountsAndStreamBytesAreTheStockFigures) {
  Nc sys = Connect("sys");
  Nc app = Connect("app");
  json ping = Ask(sys.get(), "$SYS.REQ.SERVER.PING");
  const std::string id = ping["server"]["id"].get<std::string>();
  json varz = Ask(sys.get(), "$SYS.REQ.SERVER." + id + ".VARZ");
  const std::string want_dir = (dir_.path() / "js" / "jetstream").string();
  EXPECT_EQ(varz["data"]["jetstream"]["config"]["store_dir"], want_dir) << varz;
  json jsz = Ask(sys.get(), "$SYS.REQ.SERVER.PING.JSZ", R"({"accounts":true})");
  EXPECT_EQ(jsz["data"]["config"]["store_dir"], want_dir) << jsz;
  EXPECT_EQ(jsz["data"]["accounts"], 1) << jsz;
  ASSERT_EQ(jsz["data"]["account_details"].size(), 1u) << jsz;
  EXPECT_EQ(jsz["data"]["account_details"][0]["name"], "APP") << jsz;

  const std::string hdr = "NATS/1.0\r\nX: y\r\n\r\n";  // what libnats sends for one header
  for (const char* storage : {"file", "memory"}) {
    const bool file = std::string(storage) == "file";
    const std::string name = std::string("B") + storage;  // subjects "B<storage>.a"
    json created =
        Ask(app.get(), "$JS.API.STREAM.CREATE." + name,
            json{{"name", name}, {"subjects", {name + ".>"}}, {"storage", storage}}.dump());
    ASSERT_FALSE(created.contains("error")) << created;
    const std::string subject = name + ".a";
    json ack = Ask(app.get(), subject, "0123456789");
    ASSERT_EQ(ack["stream"], name) << ack;
    uint64_t plain = (file ? 30 : 16) + subject.size() + 10;
    json info = Ask(app.get(), "$JS.API.STREAM.INFO." + name);
    EXPECT_EQ(info["state"]["bytes"], plain) << info;
    natsMsg* m = nullptr;
    ASSERT_EQ(natsMsg_Create(&m, subject.c_str(), nullptr, "0123456789", 10), NATS_OK);
    Msg owned(m);
    ASSERT_EQ(natsMsgHeader_Set(m, "X", "y"), NATS_OK);
    natsMsg* reply = nullptr;
    ASSERT_EQ(natsConnection_RequestMsg(&reply, app.get(), m, 10000), NATS_OK);
    Msg reply_owned(reply);
    uint64_t with_headers = (file ? 34 : 16) + subject.size() + hdr.size() + 10;
    info = Ask(app.get(), "$JS.API.STREAM.INFO." + name);
    EXPECT_EQ(info["state"]["messages"], 2) << info;
    EXPECT_EQ(info["state"]["bytes"], plain + with_headers) << info;
  }
  json all = Ask(sys.get(), "$SYS.REQ.SERVER.PING.JSZ");
  EXPECT_EQ(all["data"]["bytes"],
            all["data"]["memory"].get<uint64_t>() + all["data"]["storage"].get<uint64_t>())
      << all;

  // Discard new, max_bytes 100, 10-byte payloads on "Dnew.a" (file: 46 bytes each). The
  // second passes the stock check (46 + 10 < 100) and takes bytes to 92; the third (92 + 10 >=
  // 100) is refused. With 50-byte payloads (86 each) the first pushes nothing out, and a
  // second (86 + 50 >= 100) is refused too.
  json created = Ask(app.get(), "$JS.API.STREAM.CREATE.Dnew",
                     R"({"name":"Dnew","subjects":["Dnew.>"],"storage":"file",)"
                     R"("discard":"new","max_bytes":100})");
  ASSERT_FALSE(created.contains("error")) << created;
  EXPECT_EQ(Ask(app.get(), "Dnew.a", "0123456789")["seq"], 1);
  EXPECT_EQ(Ask(app.get(), "Dnew.a", "0123456789")["seq"], 2);
  json refused = Ask(app.get(), "Dnew.a", "0123456789");
  EXPECT_TRUE(refused.contains("error")) << refused;
  json info = Ask(app.get(), "$JS.API.STREAM.INFO.Dnew");
  EXPECT_EQ(info["state"]["messages"], 2) << info;
  EXPECT_EQ(info["state"]["bytes"], 92) << info;
  // Discard new where a record passes the check yet goes over: the oldest is removed.
  created = Ask(app.get(), "$JS.API.STREAM.CREATE.Dtrim",
                R"({"name":"Dtrim","subjects":["Dtrim.>"],"storage":"memory",)"
                R"("discard":"new","max_bytes":60})");
  ASSERT_FALSE(created.contains("error")) << created;
  EXPECT_EQ(Ask(app.get(), "Dtrim.a", "0123456789")["seq"], 1);  // 33 bytes
  json trimmed = Ask(app.get(), "Dtrim.a", "0123456789");        // 33 + 10 < 60: 66 > 60
  EXPECT_EQ(trimmed["seq"], 2) << trimmed;
  info = Ask(app.get(), "$JS.API.STREAM.INFO.Dtrim");
  EXPECT_EQ(info["state"]["messages"], 1) << info;
  EXPECT_EQ(info["state"]["first_seq"], 2) << info;
  EXPECT_EQ(info["state"]["bytes"], 33) << info;
}

TEST_P(SysRequests, OtherAccountsGetNoRespondersExceptTheirOwnConnz) {
  Nc sys = Connect("sys");
  Nc app = Connect("app");
  for (const char* subject : {"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ",
                              "$SYS.REQ.SERVER.PING.JSZ", "$SYS.REQ.ACCOUNT.APP.CONNZ"}) {
    natsMsg* reply = nullptr;
    EXPECT_EQ(natsConnection_RequestString(&reply, app.get(), subject, "", 10000),
              NATS_NO_RESPONDERS)
        << subject;
    natsMsg_Destroy(reply);
  }
  // nats-server imports PING.CONNZ into every account: that account's connections only.
  json own = Ask(app.get(), "$SYS.REQ.SERVER.PING.CONNZ");
  EXPECT_EQ(own["data"]["total"], 1) << own;
  EXPECT_EQ(own["server"]["name"], kName);
  EXPECT_EQ(Ask(sys.get(), "$SYS.REQ.SERVER.PING.CONNZ")["data"]["total"], 2);
  json by_account = Ask(sys.get(), "$SYS.REQ.ACCOUNT.APP.CONNZ");
  EXPECT_EQ(by_account["data"]["total"], 1) << by_account;
  json filtered = Ask(sys.get(), "$SYS.REQ.SERVER.PING.CONNZ", R"({"acc":"APP","auth":true})");
  ASSERT_EQ(filtered["data"]["connections"].size(), 1u) << filtered;
  EXPECT_EQ(filtered["data"]["connections"][0]["authorized_user"], "app") << filtered;
  EXPECT_EQ(filtered["data"]["connections"][0]["account"], "APP") << filtered;
  // nats-server's sort: most subscriptions first (app has its request inbox and three more).
  std::vector<Sub> subs;
  for (const char* subject : {"a", "b", "c"}) {
    natsSubscription* sub = nullptr;
    ASSERT_EQ(natsConnection_SubscribeSync(&sub, app.get(), subject), NATS_OK);
    subs.emplace_back(sub);
  }
  ASSERT_EQ(natsConnection_FlushTimeout(app.get(), 10000), NATS_OK);
  json sorted = Ask(sys.get(), "$SYS.REQ.SERVER.PING.CONNZ", R"({"sort":"subs"})");
  ASSERT_EQ(sorted["data"]["connections"].size(), 2u) << sorted;
  EXPECT_GE(sorted["data"]["connections"][0]["subscriptions"].get<int>(), 4) << sorted;
  json bad = Ask(sys.get(), "$SYS.REQ.SERVER.PING.CONNZ", R"({"sort":"bogus"})");
  EXPECT_EQ(bad["error"]["description"], "invalid sorting option: bogus") << bad;
  json info = Ask(sys.get(), "$SYS.REQ.ACCOUNT.APP.INFO");
  EXPECT_EQ(info["data"]["account_name"], "APP") << info;
  EXPECT_EQ(info["data"]["jetstream_enabled"], true) << info;
  EXPECT_EQ(info["data"]["client_connections"], 1) << info;
}

TEST_P(SysRequests, AccountStatzCountsAnAccountsConnectionsAndPublishes) {
  Nc sys = Connect("sys");
  Nc app = Connect("app");
  ASSERT_EQ(natsConnection_PublishString(app.get(), "orders.1", "hello"), NATS_OK);
  ASSERT_EQ(natsConnection_FlushTimeout(app.get(), 10000), NATS_OK);
  json statz = Ask(sys.get(), "$SYS.REQ.ACCOUNT.APP.STATZ");
  ASSERT_EQ(statz["data"]["account_statz"].size(), 1u) << statz;
  const json& a = statz["data"]["account_statz"][0];
  EXPECT_EQ(a["acc"], "APP");
  EXPECT_EQ(a["conns"], 1);
  EXPECT_EQ(a["received"]["msgs"], 1) << a;
  EXPECT_EQ(a["received"]["bytes"], 5) << a;
  json own = Ask(app.get(), "$SYS.REQ.ACCOUNT.PING.STATZ");
  ASSERT_EQ(own["data"]["account_statz"].size(), 1u) << own;
  EXPECT_EQ(own["data"]["account_statz"][0]["acc"], "APP");
  json all = Ask(sys.get(), "$SYS.REQ.ACCOUNT.PING.STATZ");
  EXPECT_EQ(all["data"]["account_statz"].size(), 2u) << all;  // $SYS and APP
}

INSTANTIATE_TEST_SUITE_P(BothServers, SysRequests,
                         ::testing::Values(ServerKind::kNatsServer,
                                           ServerKind::kMeridianNodeNatsConf),
                         [](const auto& info) { return KindName(info.param); });

}  // namespace
}  // namespace meridian::node_it
