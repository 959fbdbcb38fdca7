// The server's client protocol seen through a raw socket on the same loop.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "monitor/monitor.h"
#include "net/connection.h"
#include "net/listener.h"
#include "net/loop.h"
#include "raw_client.h"
#include "server/server.h"

namespace meridian::server {
namespace {

using namespace std::chrono_literals;

class ProtocolTest : public ::testing::Test {
 protected:
  void StartServer(Options o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    server_ = std::make_unique<Server>(loop_, std::move(o));
    ASSERT_TRUE(server_->Start().ok());
  }
  std::unique_ptr<RawClient> Client() {
    return std::make_unique<RawClient>(loop_, server_->port());
  }
  net::Loop loop_;
  std::unique_ptr<Server> server_;
};

constexpr std::string_view kQuietConnect =
    "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n";

TEST_F(ProtocolTest, InfoAdvertisesNatsServer2910WithHeaders) {
  StartServer();
  auto c = Client();
  EXPECT_EQ(c->received().rfind("INFO {", 0), 0u);
  EXPECT_NE(c->received().find("\"version\":\"2.9.10\""), std::string::npos);
  EXPECT_NE(c->received().find("\"headers\":true"), std::string::npos);
  EXPECT_NE(c->received().find("} \r\n"), std::string::npos);
}

TEST_F(ProtocolTest, InfoCarriesTheClusterNameOnlyWhenOneIsSet) {
  StartServer();
  EXPECT_EQ(Client()->received().find("\"cluster\""), std::string::npos);
  server_.reset();
  Options o;
  o.cluster_name = "west";
  StartServer(std::move(o));
  EXPECT_NE(Client()->received().find("\"cluster\":\"west\""), std::string::npos);
}

TEST_F(ProtocolTest, PublishReachesSubscriberAsMsg) {
  StartServer();
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send("SUB foo.* 7\r\nPUB foo.bar reply 5\r\nhello\r\n");
  EXPECT_TRUE(c->WaitFor("MSG foo.bar 7 reply 5\r\nhello\r\n")) << c->received();
}

// A publisher repeating one subject is answered from its last match (server.cc PubMatch):
// a subscribe or unsubscribe by another client in between must still count.
TEST_F(ProtocolTest, RepeatedSubjectFollowsSubscribesAndUnsubscribesOfOthers) {
  StartServer();
  auto pub = Client();
  auto sub = Client();
  pub->Send(kQuietConnect);
  sub->Send(kQuietConnect);
  pub->Send("PUB foo 1\r\na\r\nPUB foo 1\r\na\r\nPING\r\n");
  ASSERT_TRUE(pub->WaitFor("PONG\r\n"));
  sub->Send("SUB foo 1\r\nPING\r\n");
  ASSERT_TRUE(sub->WaitFor("PONG\r\n"));
  // Around the size up to which a message is queued in one piece (512 bytes).
  const std::string p512(512, 'm'), p513(513, 'n'), p4k(4096, 'k');
  pub->Send("PUB foo 1\r\nb\r\nPUB foo 512\r\n" + p512 + "\r\nPUB foo 513\r\n" + p513 +
            "\r\nPUB foo 4096\r\n" + p4k + "\r\n");
  ASSERT_TRUE(sub->WaitFor("MSG foo 1 4096\r\n" + p4k + "\r\n")) << sub->received();
  EXPECT_EQ(sub->received().find("\r\na\r\n"), std::string::npos) << sub->received();
  EXPECT_NE(sub->received().find("MSG foo 1 1\r\nb\r\nMSG foo 1 512\r\n" + p512 +
                                 "\r\nMSG foo 1 513\r\n" + p513 + "\r\n"),
            std::string::npos)
      << sub->received();
  sub->received().clear();
  sub->Send("UNSUB 1\r\nSUB bar 2\r\nPING\r\n");
  ASSERT_TRUE(sub->WaitFor("PONG\r\n"));
  pub->Send("PUB foo 1\r\nc\r\nPUB bar 1\r\nd\r\n");
  ASSERT_TRUE(sub->WaitFor("MSG bar 2 1\r\nd\r\n")) << sub->received();
  EXPECT_EQ(sub->received().find("\r\nc\r\n"), std::string::npos) << sub->received();
}

TEST_F(ProtocolTest, VerboseConnectAnswersOkAfterEachOp) {
  StartServer();
  auto c = Client();
  c->Send("CONNECT {}\r\nSUB a 1\r\nPING\r\n");
  EXPECT_TRUE(c->WaitFor("+OK\r\n+OK\r\nPONG\r\n")) << c->received();
}

TEST_F(ProtocolTest, NoRespondersGets503OnTheReplySubscription) {
  StartServer();
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send("SUB _INBOX.r 9\r\nPUB svc _INBOX.r 0\r\n\r\n");
  EXPECT_TRUE(c->WaitFor("HMSG _INBOX.r 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n")) << c->received();
}

TEST_F(ProtocolTest, UnsubWithMaxStopsAfterThatManyMessages) {
  StartServer();
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send(
      "SUB foo 1\r\nUNSUB 1 2\r\nPUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG\r\n"));
  EXPECT_NE(c->received().find("MSG foo 1 1\r\nb"), std::string::npos);
  EXPECT_EQ(c->received().find("MSG foo 1 1\r\nc"), std::string::npos) << c->received();
}

TEST_F(ProtocolTest, QueueGroupDeliversEachMessageOnce) {
  StartServer();
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send("SUB work q 1\r\nSUB work q 2\r\n");
  for (int i = 0; i < 20; ++i) c->Send("PUB work 1\r\nx\r\n");
  c->Send("PING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG\r\n"));
  size_t count = 0;
  for (size_t p = 0; (p = c->received().find("MSG work", p)) != std::string::npos; ++p) ++count;
  EXPECT_EQ(count, 20u);
}

TEST_F(ProtocolTest, EchoFalseSkipsOwnMessages) {
  StartServer();
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false,\"echo\":false}\r\nSUB foo 1\r\nPUB foo 1\r\nx\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG\r\n"));
  EXPECT_EQ(c->received().find("MSG"), std::string::npos);
}

TEST_F(ProtocolTest, HeadersAreStrippedForClientsWithoutHeaders) {
  StartServer();
  auto sub = Client();
  sub->Send("CONNECT {\"verbose\":false}\r\nSUB h 1\r\nPING\r\n");
  ASSERT_TRUE(sub->WaitFor("PONG"));
  auto pub = Client();
  pub->Send(kQuietConnect);
  pub->Send("HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
  EXPECT_TRUE(sub->WaitFor("MSG h 1 2\r\nhi\r\n")) << sub->received();
}

TEST_F(ProtocolTest, HpubWithoutHeadersNegotiatedClosesSilently) {
  StartServer();
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false}\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(c->received().find("-ERR"), std::string::npos);
}

TEST_F(ProtocolTest, OversizedPayloadIsAViolationAndCloses) {
  Options o;
  o.max_payload = 8;
  StartServer(o);
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false}\r\nPUB foo 9\r\n");
  EXPECT_TRUE(c->WaitFor("-ERR 'Maximum Payload Violation'\r\n"));
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ProtocolTest, GarbageClosesOnlyTheOffender) {
  StartServer();
  auto good = Client();
  good->Send(kQuietConnect);
  good->Send("SUB foo 1\r\nPING\r\n");
  ASSERT_TRUE(good->WaitFor("PONG"));
  auto bad = Client();
  bad->Send("\x01\x02 garbage\r\n");
  EXPECT_TRUE(bad->WaitFor("-ERR 'Unknown Protocol Operation'"));
  EXPECT_TRUE(bad->WaitClosed());
  auto pub = Client();
  pub->Send(kQuietConnect);
  pub->Send("PUB foo 2\r\nok\r\n");
  EXPECT_TRUE(good->WaitFor("MSG foo 1 2\r\nok\r\n"));
  EXPECT_FALSE(good->closed());
}

TEST_F(ProtocolTest, WrongPasswordIsAuthorizationViolation) {
  Options o;
  o.users.push_back({"u", "p", "", {}});
  StartServer(o);
  auto c = Client();
  EXPECT_NE(c->received().find("\"auth_required\":true"), std::string::npos);
  c->Send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"nope\"}\r\n");
  EXPECT_TRUE(c->WaitFor("-ERR 'Authorization Violation'\r\n"));
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ProtocolTest, BcryptHashedPasswordAcceptsTheRightPasswordOnly) {
  Options o;
  // bcrypt (cost 4) of "app-secret".
  o.users.push_back({"u", "$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO", "", {}});
  StartServer(o);
  auto good = Client();
  good->Send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"app-secret\"}\r\nPING\r\n");
  EXPECT_TRUE(good->WaitFor("PONG\r\n")) << good->received();
  auto bad = Client();
  bad->Send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"app-secreT\"}\r\n");
  EXPECT_TRUE(bad->WaitFor("-ERR 'Authorization Violation'\r\n"));
  // The hash itself is not a password.
  auto hash = Client();
  hash->Send(
      "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":"
      "\"$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO\"}\r\n");
  EXPECT_TRUE(hash->WaitFor("-ERR 'Authorization Violation'\r\n"));
}

// bcrypt (cost 12, ~250 ms here) of "slow-secret", and cost 4 of the same.
constexpr const char* kCost12Hash = "$2b$12$5.1rm3MxBLxOnClV9FnYzOnpe/8l3w2Bp9Cr3hgTz6Ak0gZd3Qluy";
constexpr const char* kCost4Hash = "$2b$04$ha0m92XKYAhQah.k5LCTOelXBov3J9GQH7l26mGin7yV9.L6ronDe";
constexpr std::string_view kSlowConnect =
    "CONNECT {\"verbose\":false,\"user\":\"slow\",\"pass\":\"slow-secret\"}\r\n";

TEST_F(ProtocolTest, OtherClientsAreServedWhileABcryptPasswordIsChecked) {
  Options o;
  o.users.push_back({"slow", kCost12Hash, "", {}});
  o.users.push_back({"fast", "fast", "", {}});
  o.auth_timeout = 60s;
  StartServer(o);
  const std::string fast_connect =
      "CONNECT {\"verbose\":false,\"user\":\"fast\",\"pass\":\"fast\"}\r\n";
  auto responder = Client();
  responder->Send(fast_connect + "SUB svc 1\r\nPING\r\n");
  ASSERT_TRUE(responder->WaitFor("PONG\r\n"));
  auto requester = Client();
  requester->Send(fast_connect + "SUB reply 1\r\nPING\r\n");
  ASSERT_TRUE(requester->WaitFor("PONG\r\n"));
  auto slow = Client();
  slow->Send(std::string(kSlowConnect) + "PING\r\n");
  // Request/reply round trips through the server until the slow client's verdict (its PONG)
  // arrives. With bcrypt on the loop thread none would complete meanwhile.
  int round_trips = 0;
  auto give_up = std::chrono::steady_clock::now() + 60s;
  while (slow->received().find("PONG\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    requester->received().clear();
    responder->received().clear();
    requester->Send("PUB svc 1\r\nq\r\n");
    ASSERT_TRUE(responder->WaitFor("MSG svc 1 1\r\nq\r\n", 30s));
    responder->Send("PUB reply 1\r\na\r\n");
    ASSERT_TRUE(requester->WaitFor("MSG reply 1 1\r\na\r\n", 30s));
    if (slow->received().find("PONG\r\n") == std::string::npos) ++round_trips;
  }
  ASSERT_NE(slow->received().find("PONG\r\n"), std::string::npos) << slow->received();
  EXPECT_EQ(slow->received().find("-ERR"), std::string::npos) << slow->received();
  EXPECT_GE(round_trips, 5);
}

TEST_F(ProtocolTest, OpsPipelinedAfterABcryptConnectRunInOrderOnceAdmitted) {
  Options o;
  o.users.push_back({"slow", kCost4Hash, "", {}});
  StartServer(o);
  auto c = Client();
  // One packet: CONNECT, then ops that must wait for the verdict and then run in order.
  c->Send(std::string(kSlowConnect) +
          "SUB a 1\r\nPUB a 5\r\nfirst\r\nUNSUB 1\r\nPUB a 6\r\nsecond\r\nSUB a 2\r\n"
          "PUB a 5\r\nthird\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG\r\n", 30s)) << c->received();
  EXPECT_EQ(c->received().substr(c->received().find("\r\n") + 2),
            "MSG a 1 5\r\nfirst\r\nMSG a 2 5\r\nthird\r\nPONG\r\n");
}

TEST_F(ProtocolTest, WrongBcryptPasswordRefusesAndRunsNoPipelinedOp) {
  Options o;
  o.users.push_back({"slow", kCost4Hash, "", {}});
  o.users.push_back({"watch", "watch", "", {}});
  StartServer(o);
  auto watch = Client();
  watch->Send("CONNECT {\"verbose\":false,\"user\":\"watch\",\"pass\":\"watch\"}\r\n"
              "SUB a 1\r\nPING\r\n");
  ASSERT_TRUE(watch->WaitFor("PONG\r\n"));
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false,\"user\":\"slow\",\"pass\":\"wrong\"}\r\n"
          "PUB a 4\r\nleak\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("-ERR 'Authorization Violation'\r\n", 30s)) << c->received();
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(c->received().find("PONG"), std::string::npos) << c->received();
  watch->Send("PING\r\n");
  ASSERT_TRUE(watch->WaitFor("PONG\r\nPONG\r\n"));
  EXPECT_EQ(watch->received().find("leak"), std::string::npos) << watch->received();
}

TEST_F(ProtocolTest, AuthTimeoutDuringABcryptCheckClosesTheClientAndTheVerdictIsIgnored) {
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.users.push_back({"slow", kCost12Hash, "", {}});
  o.auth_timeout = 30ms;  // a cost-12 check takes far longer
  StartServer(o);
  auto c = Client();
  c->Send(std::string(kSlowConnect) + "PING\r\n");
  ASSERT_TRUE(c->WaitFor("-ERR 'Authentication Timeout'\r\n", 30s)) << c->received();
  EXPECT_TRUE(c->WaitClosed());
  EXPECT_EQ(c->received().find("PONG"), std::string::npos) << c->received();
  // A later client, checked after the first (whose verdict then finds nobody), is served.
  o.auth_timeout = 60s;
  server_->Reload(o);
  auto next = Client();
  next->Send(std::string(kSlowConnect) + "PING\r\n");
  EXPECT_TRUE(next->WaitFor("PONG\r\n", 60s)) << next->received();
}

TEST_F(ProtocolTest, ClientGoneOrServerGoneBeforeTheBcryptVerdictIsLeftAlone) {
  Options o;
  o.users.push_back({"slow", kCost12Hash, "", {}});
  o.auth_timeout = 60s;
  o.first_ping_delay = 50ms;  // the PING to a client that went away fails: it is closed
  StartServer(o);
  // A client that goes away while its check runs is closed and freed; the verdict then finds
  // nobody to admit (ASan reports any touch of the freed client).
  auto gone = Client();
  gone->Send(kSlowConnect);
  loop_.RunFor(20ms);  // the server reads the CONNECT and starts the check
  gone->Abort();
  auto until = std::chrono::steady_clock::now() + 30s;
  while (server_->num_connections() != 0 && std::chrono::steady_clock::now() < until) {
    loop_.RunFor(5ms);
  }
  ASSERT_EQ(server_->num_connections(), 0u);
  auto next = Client();
  next->Send(std::string(kSlowConnect) + "PING\r\n");
  ASSERT_TRUE(next->WaitFor("PONG\r\n", 60s)) << next->received();
  EXPECT_EQ(server_->num_connections(), 1u);
  // The server destroyed while a check runs: the verdict is dropped.
  auto last = Client();
  last->Send(kSlowConnect);
  loop_.RunFor(20ms);
  server_.reset();
  loop_.RunFor(2s);
}

TEST_F(ProtocolTest, ReloadKeepsABcryptUserWithTheSameHashAndClosesOneWhoseHashChanged) {
  Options o;
  o.host = "127.0.0.1";  // as StartServer sets them, so that Reload sees no listen change
  o.port = 0;
  o.users.push_back({"slow", kCost4Hash, "", {}});
  o.users.push_back({"other", kCost4Hash, "", {}});
  StartServer(o);
  auto slow = Client();
  slow->Send(std::string(kSlowConnect) + "PING\r\n");
  ASSERT_TRUE(slow->WaitFor("PONG\r\n", 30s));
  auto other = Client();
  other->Send(
      "CONNECT {\"verbose\":false,\"user\":\"other\",\"pass\":\"slow-secret\"}\r\n"
      "PING\r\n");
  ASSERT_TRUE(other->WaitFor("PONG\r\n", 30s));
  Options fresh = o;
  // bcrypt (cost 4) of "app-secret": other's password changed.
  fresh.users[1].password = "$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO";
  server_->Reload(fresh);
  EXPECT_TRUE(other->WaitFor("-ERR 'Authorization Violation'\r\n"));
  EXPECT_TRUE(other->WaitClosed());
  slow->Send("PING\r\n");
  EXPECT_TRUE(slow->WaitFor("PONG\r\nPONG\r\n"));
  EXPECT_FALSE(slow->closed());
}

// A reload that changes a connected user's bcrypt hash checks the password on the thread
// pool: the loop keeps serving others meanwhile, and the client (parked) is served again once
// the new hash admits it.
TEST_F(ProtocolTest, ReloadChecksAChangedBcryptHashOffTheLoopThread) {
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.users.push_back({"slow", kCost4Hash, "", {}});
  o.users.push_back({"fast", "fast", "", {}});
  StartServer(o);
  const std::string fast_connect =
      "CONNECT {\"verbose\":false,\"user\":\"fast\",\"pass\":\"fast\"}\r\n";
  auto responder = Client();
  responder->Send(fast_connect + "SUB svc 1\r\nPING\r\n");
  ASSERT_TRUE(responder->WaitFor("PONG\r\n"));
  auto requester = Client();
  requester->Send(fast_connect + "SUB reply 1\r\nPING\r\n");
  ASSERT_TRUE(requester->WaitFor("PONG\r\n"));
  auto slow = Client();
  slow->Send(std::string(kSlowConnect) + "PING\r\n");
  ASSERT_TRUE(slow->WaitFor("PONG\r\n", 30s));
  slow->received().clear();
  Options fresh = o;
  fresh.users[0].password = kCost12Hash;  // the same password, hashed at cost 12
  server_->Reload(fresh);
  slow->Send("PING\r\n");
  // With bcrypt on the loop thread, Reload itself would take the ~250 ms and the PING would be
  // answered before any round trip below.
  int round_trips = 0;
  auto give_up = std::chrono::steady_clock::now() + 60s;
  while (slow->received().find("PONG\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    requester->received().clear();
    responder->received().clear();
    requester->Send("PUB svc 1\r\nq\r\n");
    ASSERT_TRUE(responder->WaitFor("MSG svc 1 1\r\nq\r\n", 30s));
    responder->Send("PUB reply 1\r\na\r\n");
    ASSERT_TRUE(requester->WaitFor("MSG reply 1 1\r\na\r\n", 30s));
    if (slow->received().find("PONG\r\n") == std::string::npos) ++round_trips;
  }
  ASSERT_NE(slow->received().find("PONG\r\n"), std::string::npos) << slow->received();
  EXPECT_EQ(slow->received().find("-ERR"), std::string::npos) << slow->received();
  EXPECT_FALSE(slow->closed());
  EXPECT_GE(round_trips, 5);
}

// The verdict of a reload's check applies the users as they are when it arrives: a second
// reload back to the hash the client was verified against keeps it connected even though the
// first one's hash (of another password) refused it.
TEST_F(ProtocolTest, AReloadDuringABcryptRecheckIsWhatTheVerdictApplies) {
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.users.push_back({"slow", kCost4Hash, "", {}});
  StartServer(o);
  auto slow = Client();
  slow->Send(std::string(kSlowConnect) + "PING\r\n");
  ASSERT_TRUE(slow->WaitFor("PONG\r\n", 30s));
  slow->received().clear();
  Options other = o;
  // bcrypt (cost 4) of "app-secret": the client's password no longer matches.
  other.users[0].password = "$2a$04$hqSOd8Vj.dlxm0oK7cSpF.N4b65wRR9lMPg13Yp5P1TGBERNaYyEO";
  server_->Reload(other);
  server_->Reload(o);
  slow->Send("PING\r\n");
  EXPECT_TRUE(slow->WaitFor("PONG\r\n", 30s)) << slow->received();
  EXPECT_EQ(slow->received().find("-ERR"), std::string::npos) << slow->received();
  // And a reload whose hash refuses it closes it once checked.
  server_->Reload(other);
  EXPECT_TRUE(slow->WaitFor("-ERR 'Authorization Violation'\r\n", 30s)) << slow->received();
  EXPECT_TRUE(slow->WaitClosed());
}

TEST_F(ProtocolTest, NoAuthUserLogsInClientsWithoutCredentialsAsThatUser) {
  Options o;
  o.accounts.push_back({"A", {}});
  User guest{"guest", "pw", "A", {}};
  guest.permissions.publish.allow = {"public.>"};
  o.users.push_back(guest);
  o.users.push_back({"a", "a", "A", {}});
  o.no_auth_user = "guest";
  StartServer(o);
  auto sub = Client();
  sub->Send(
      "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB public.x 1\r\nPING\r\n");
  ASSERT_TRUE(sub->WaitFor("PONG\r\n"));
  auto anon = Client();
  anon->Send(
      "CONNECT {\"verbose\":false}\r\nPUB public.x 2\r\nhi\r\nPUB private 1\r\nx\r\nPING\r\n");
  // In account A, with the guest's permissions.
  EXPECT_TRUE(sub->WaitFor("MSG public.x 1 2\r\nhi\r\n")) << sub->received();
  EXPECT_TRUE(anon->WaitFor("-ERR 'Permissions Violation for Publish to \"private\"'\r\n"))
      << anon->received();
}

TEST_F(ProtocolTest, NoAuthUserDoesNotExcuseWrongCredentials) {
  Options o;
  o.users.push_back({"guest", "pw", "", {}});
  o.users.push_back({"a", "a", "", {}});
  o.no_auth_user = "guest";
  StartServer(o);
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"wrong\"}\r\n");
  EXPECT_TRUE(c->WaitFor("-ERR 'Authorization Violation'\r\n"));
}

TEST_F(ProtocolTest, NoAuthUserMustNameAConfiguredUser) {
  Options o;
  o.users.push_back({"a", "a", "", {}});
  o.no_auth_user = "nobody";
  o.host = "127.0.0.1";
  EXPECT_THROW(Server(loop_, o), std::invalid_argument);
}

Options TwoUsers() {
  Options o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.users.push_back({"a", "a", "", {}});
  o.users.push_back({"b", "b", "", {}});
  return o;
}

TEST_F(ProtocolTest, ReloadAddsAUserWhoCanThenConnect) {
  StartServer(TwoUsers());
  auto before = Client();
  before->Send("CONNECT {\"verbose\":false,\"user\":\"c\",\"pass\":\"c\"}\r\n");
  ASSERT_TRUE(before->WaitFor("-ERR 'Authorization Violation'\r\n"));
  Options fresh = TwoUsers();
  fresh.users.push_back({"c", "c", "", {}});
  server_->Reload(fresh);
  auto after = Client();
  after->Send("CONNECT {\"verbose\":false,\"user\":\"c\",\"pass\":\"c\"}\r\nPING\r\n");
  EXPECT_TRUE(after->WaitFor("PONG\r\n")) << after->received();
}

TEST_F(ProtocolTest, ReloadClosesClientsWhoseUserWasRemovedAndKeepsTheOthers) {
  StartServer(TwoUsers());
  auto a = Client();
  a->Send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nPING\r\n");
  auto b = Client();
  b->Send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nPING\r\n");
  ASSERT_TRUE(a->WaitFor("PONG\r\n"));
  ASSERT_TRUE(b->WaitFor("PONG\r\n"));
  Options fresh = TwoUsers();
  fresh.users.pop_back();  // b is gone
  server_->Reload(fresh);
  EXPECT_TRUE(b->WaitFor("-ERR 'Authorization Violation'\r\n")) << b->received();
  EXPECT_TRUE(b->WaitClosed());
  a->Send("PING\r\n");
  EXPECT_TRUE(a->WaitFor("PONG\r\nPONG\r\n")) << a->received();
  EXPECT_FALSE(a->closed());
}

TEST_F(ProtocolTest, ReloadedPermissionsApplyToConnectedClients) {
  StartServer(TwoUsers());
  auto a = Client();
  a->Send(
      "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB secret.x 1\r\n"
      "SUB open.x 2\r\nPING\r\n");
  ASSERT_TRUE(a->WaitFor("PONG\r\n"));
  Options fresh = TwoUsers();
  fresh.users[0].permissions.subscribe.deny = {"secret.>"};
  fresh.users[0].permissions.publish.allow = {"open.>"};
  server_->Reload(fresh);
  // The subscription no longer allowed is removed with an error; the connection stays.
  EXPECT_TRUE(a->WaitFor("-ERR 'Permissions Violation for Subscription to \"secret.x\"'\r\n"))
      << a->received();
  a->Send("PUB secret.x 1\r\nx\r\nPUB open.x 1\r\ny\r\nPING\r\n");
  EXPECT_TRUE(a->WaitFor("-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n"))
      << a->received();
  EXPECT_TRUE(a->WaitFor("MSG open.x 2 1\r\ny\r\n")) << a->received();
  EXPECT_EQ(a->received().find("MSG secret.x"), std::string::npos);
  EXPECT_FALSE(a->closed());
}

TEST_F(ProtocolTest, ReloadReplacesAccountMappings) {
  Options o = TwoUsers();
  AccountConfig g{kGlobalAccount, {}};
  g.mappings.push_back({"in.*", {{"old.{{wildcard(1)}}", 100, ""}}});
  o.accounts.push_back(g);
  StartServer(o);
  auto a = Client();
  a->Send(
      "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB old.* 1\r\n"
      "SUB new.* 2\r\nPUB in.x 1\r\n1\r\nPING\r\n");
  ASSERT_TRUE(a->WaitFor("MSG old.x 1 1\r\n1\r\n")) << a->received();
  Options fresh = TwoUsers();
  AccountConfig g2{kGlobalAccount, {}};
  g2.mappings.push_back({"in.*", {{"new.{{wildcard(1)}}", 100, ""}}});
  fresh.accounts.push_back(g2);
  server_->Reload(fresh);
  a->Send("PUB in.y 1\r\n2\r\n");
  EXPECT_TRUE(a->WaitFor("MSG new.y 2 1\r\n2\r\n")) << a->received();
}

TEST_F(ProtocolTest, ReloadRefusesRestartOnlyChangesAndKeepsTheServerAsItWas) {
  StartServer(TwoUsers());
  Options fresh = TwoUsers();
  fresh.users.pop_back();
  fresh.max_payload = 1024;
  try {
    server_->Reload(fresh);
    ADD_FAILURE() << "reload accepted a max_payload change";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("max_payload"), std::string::npos) << e.what();
  }
  auto b = Client();
  b->Send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nPING\r\n");
  EXPECT_TRUE(b->WaitFor("PONG\r\n")) << b->received();
}

Options ExportingAndImporting() {
  Options o;
  AccountConfig svc{"SVC", {}};
  svc.exports.push_back({"events.>", false});
  svc.exports.push_back({"time.>", true});
  AccountConfig app{"APP", {}};
  app.imports.push_back({false, "SVC", "events.>", "svc", ""});
  app.imports.push_back({true, "SVC", "time.now", "", "now"});
  o.accounts = {svc, app};
  o.users.push_back({"s", "s", "SVC", {}});
  o.users.push_back({"a", "a", "APP", {}});
  return o;
}

TEST_F(ProtocolTest, StreamImportDeliversTheExportersMessagesUnderThePrefix) {
  StartServer(ExportingAndImporting());
  auto app = Client();
  app->Send(
      "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB svc.events.> "
      "1\r\nPING\r\n");
  ASSERT_TRUE(app->WaitFor("PONG\r\n"));
  auto svc = Client();
  svc->Send(
      "CONNECT {\"verbose\":false,\"user\":\"s\",\"pass\":\"s\"}\r\nPUB events.a 1\r\nx\r\n"
      "PUB other 1\r\ny\r\n");
  EXPECT_TRUE(app->WaitFor("MSG svc.events.a 1 1\r\nx\r\n")) << app->received();
}

TEST_F(ProtocolTest, ServiceImportCarriesTheRequestAndTheReplyBack) {
  StartServer(ExportingAndImporting());
  auto svc = Client();
  svc->Send(
      "CONNECT {\"verbose\":false,\"user\":\"s\",\"pass\":\"s\"}\r\nSUB time.now 1\r\nPING\r\n");
  ASSERT_TRUE(svc->WaitFor("PONG\r\n"));
  auto app = Client();
  app->Send(
      "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB _INBOX.r 9\r\n"
      "PUB now _INBOX.r 1\r\n?\r\n");
  ASSERT_TRUE(svc->WaitFor("MSG time.now 1 _R_.")) << svc->received();
  auto at = svc->received().find("_R_.");
  std::string reply = svc->received().substr(at, svc->received().find(' ', at) - at);
  svc->Send("PUB " + reply + " 4\r\nnoon\r\n");
  EXPECT_TRUE(app->WaitFor("MSG _INBOX.r 9 4\r\nnoon\r\n")) << app->received();
}

TEST_F(ProtocolTest, ServiceImportUnderAnotherPrefixMapsTheWildcardTokens) {
  // As an external source's API import: "$JS.API.>" imported as "$JS.hub.API.>".
  Options o;
  AccountConfig svc{"SVC", {}};
  svc.exports.push_back({"api.>", true});
  AccountConfig app{"APP", {}};
  app.imports.push_back({true, "SVC", "api.>", "", "hub.api.>"});
  o.accounts = {svc, app};
  o.users.push_back({"s", "s", "SVC", {}});
  o.users.push_back({"a", "a", "APP", {}});
  StartServer(o);
  auto s = Client();
  s->Send("CONNECT {\"verbose\":false,\"user\":\"s\",\"pass\":\"s\"}\r\nSUB api.> 1\r\nPING\r\n");
  ASSERT_TRUE(s->WaitFor("PONG\r\n"));
  auto a = Client();
  a->Send(
      "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB _INBOX.r 9\r\n"
      "PUB hub.api.STREAM.INFO.O _INBOX.r 1\r\n?\r\n");
  ASSERT_TRUE(s->WaitFor("MSG api.STREAM.INFO.O 1 _R_.")) << s->received();
  auto at = s->received().find("_R_.");
  std::string reply = s->received().substr(at, s->received().find(' ', at) - at);
  s->Send("PUB " + reply + " 2\r\nok\r\n");
  EXPECT_TRUE(a->WaitFor("MSG _INBOX.r 9 2\r\nok\r\n")) << a->received();
}

TEST_F(ProtocolTest, ImportOfASubjectNotExportedIsRefused) {
  Options o = ExportingAndImporting();
  o.accounts[1].imports.push_back({false, "SVC", "secrets.>", "", ""});
  o.host = "127.0.0.1";
  EXPECT_THROW(Server(loop_, o), std::invalid_argument);
}

std::string RefusalOf(net::Loop& loop, const Options& o) {
  try {
    Server s(loop, o);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST_F(ProtocolTest, PrivateExportAdmitsOnlyTheListedAccountsImports) {
  Options o = ExportingAndImporting();
  o.host = "127.0.0.1";
  o.accounts[0].exports[0].accounts = {"APP"};
  o.accounts[0].exports[1].accounts = {"APP"};
  AccountConfig other{"OTHER", {}};
  other.imports.push_back({false, "SVC", "events.x", "", ""});
  o.accounts.push_back(other);
  EXPECT_NE(RefusalOf(loop_, o).find(
                "account \"OTHER\": Error adding stream import \"events.x\": stream import not "
                "authorized (account \"SVC\" exports it only to APP"),
            std::string::npos)
      << RefusalOf(loop_, o);
  o.accounts[2].imports[0] = {true, "SVC", "time.now", "", ""};
  EXPECT_NE(RefusalOf(loop_, o).find("Error adding service import \"time.now\": service import "
                                     "not authorized"),
            std::string::npos)
      << RefusalOf(loop_, o);
  // Listed: admitted, and the import works.
  o.accounts[0].exports[0].accounts = {"APP", "OTHER"};
  o.accounts[0].exports[1].accounts = {"OTHER", "APP"};
  EXPECT_EQ(RefusalOf(loop_, o), "");
  StartServer(o);
  auto app = Client();
  app->Send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB svc.events.> 1\r\n"
            "PING\r\n");
  ASSERT_TRUE(app->WaitFor("PONG\r\n"));
  auto svc = Client();
  svc->Send("CONNECT {\"verbose\":false,\"user\":\"s\",\"pass\":\"s\"}\r\nPUB events.a 1\r\nx\r\n");
  EXPECT_TRUE(app->WaitFor("MSG svc.events.a 1 1\r\nx\r\n")) << app->received();
}

TEST_F(ProtocolTest, PrivateExportListingAnUnknownAccountIsRefused) {
  Options o = ExportingAndImporting();
  o.accounts[0].exports[0].accounts = {"APP", "NOPE"};
  EXPECT_NE(RefusalOf(loop_, o).find("\"NOPE\" account not defined for stream export"),
            std::string::npos)
      << RefusalOf(loop_, o);
}

TEST_F(ProtocolTest, ReloadRefusesAnImportOfAPrivateExportByAnUnlistedAccount) {
  Options o = ExportingAndImporting();
  o.host = "127.0.0.1";
  o.port = 0;
  StartServer(o);
  Options fresh = o;
  fresh.accounts[0].exports[0].accounts = {"SVC"};  // APP's stream import loses its grant
  EXPECT_THROW(server_->Reload(fresh), std::invalid_argument);
}

TEST_F(ProtocolTest, OpBeforeConnectWithAuthIsAuthorizationViolation) {
  Options o;
  o.token = "t";
  StartServer(o);
  auto c = Client();
  c->Send("PING\r\n");
  EXPECT_TRUE(c->WaitFor("-ERR 'Authorization Violation'\r\n"));
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ProtocolTest, NoConnectWithinAuthTimeoutCloses) {
  Options o;
  o.token = "t";
  o.auth_timeout = 100ms;
  StartServer(o);
  auto c = Client();
  EXPECT_TRUE(c->WaitFor("-ERR 'Authentication Timeout'\r\n"));
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ProtocolTest, PermissionViolationsAreReportedAndKeepTheConnection) {
  Options o;
  User u{"u", "p", "", {}};
  u.permissions.publish.allow = {"ok.>"};
  u.permissions.subscribe.deny = {"secret.>"};
  o.users.push_back(u);
  StartServer(o);
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\n");
  c->Send("PUB no 0\r\n\r\nSUB secret.x 1\r\nSUB secret.y q 2\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG\r\n"));
  EXPECT_NE(c->received().find("-ERR 'Permissions Violation for Publish to \"no\"'"),
            std::string::npos);
  EXPECT_NE(c->received().find("-ERR 'Permissions Violation for Subscription to \"secret.x\"'"),
            std::string::npos);
  EXPECT_NE(c->received().find(
                "-ERR 'Permissions Violation for Subscription to \"secret.y\" using queue \"q\"'"),
            std::string::npos);
  EXPECT_FALSE(c->closed());
}

TEST_F(ProtocolTest, WildcardSubscriptionDoesNotReceiveDeniedSubjects) {
  Options o;
  User u{"u", "p", "", {}};
  u.permissions.subscribe.deny = {"foo.secret"};
  o.users.push_back(u);
  o.users.push_back({"pub", "pub", "", {}});
  StartServer(o);
  auto c = Client();
  c->Send("CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\nSUB foo.* 1\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG"));
  auto p = Client();
  p->Send("CONNECT {\"verbose\":false,\"user\":\"pub\",\"pass\":\"pub\"}\r\n");
  p->Send("PUB foo.secret 1\r\ns\r\nPUB foo.open 1\r\no\r\n");
  ASSERT_TRUE(c->WaitFor("MSG foo.open 1 1\r\no\r\n"));
  EXPECT_EQ(c->received().find("foo.secret"), std::string::npos) << c->received();
}

TEST_F(ProtocolTest, AccountsIsolateSubjects) {
  Options o;
  o.accounts.push_back({"A", {}});
  o.accounts.push_back({"B", {}});
  o.users.push_back({"a", "a", "A", {}});
  o.users.push_back({"b", "b", "B", {}});
  StartServer(o);
  auto a = Client();
  a->Send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nSUB x 1\r\nPING\r\n");
  ASSERT_TRUE(a->WaitFor("PONG"));
  auto b = Client();
  b->Send("CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nPUB x 1\r\nb\r\n");
  auto a2 = Client();
  a2->Send("CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\nPUB x 1\r\na\r\n");
  ASSERT_TRUE(a->WaitFor("MSG x 1 1\r\na\r\n"));
  EXPECT_EQ(a->received().find("MSG x 1 1\r\nb"), std::string::npos);
}

TEST_F(ProtocolTest, AccountMappingRewritesThePublishSubject) {
  Options o;
  AccountConfig g{kGlobalAccount, {}};
  g.mappings.push_back({"old.*", {{"new.{{wildcard(1)}}", 100, ""}}});
  o.accounts.push_back(g);
  StartServer(o);
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send("SUB new.* 1\r\nPUB old.x 1\r\nm\r\n");
  EXPECT_TRUE(c->WaitFor("MSG new.x 1 1\r\nm\r\n")) << c->received();
}

TEST_F(ProtocolTest, MaxSubscriptionsIsReportedWithoutClosing) {
  Options o;
  o.max_subscriptions = 1;
  StartServer(o);
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send("SUB a 1\r\nSUB b 2\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG"));
  EXPECT_NE(c->received().find("-ERR 'maximum subscriptions exceeded'"), std::string::npos);
}

TEST_F(ProtocolTest, MaxConnectionsRefusesTheExtraClient) {
  Options o;
  o.max_connections = 1;
  StartServer(o);
  auto first = Client();
  auto second = Client();
  EXPECT_TRUE(second->WaitFor("-ERR 'maximum connections exceeded'"));
  EXPECT_TRUE(second->WaitClosed());
}

TEST_F(ProtocolTest, UnansweredPingsCloseAStaleConnection) {
  Options o;
  o.first_ping_delay = 20ms;
  o.ping_interval = 30ms;
  StartServer(o);
  auto c = Client();
  EXPECT_TRUE(c->WaitFor("-ERR 'Stale Connection'\r\n")) << c->received();
  EXPECT_TRUE(c->WaitClosed());
}

TEST_F(ProtocolTest, SlowConsumerIsClosedAndCountedWhilePublisherStays) {
  Options o;
  o.max_pending = 256 * 1024;
  StartServer(o);
  auto slow = Client();
  slow->Send(kQuietConnect);
  slow->Send("SUB flood 1\r\nPING\r\n");
  ASSERT_TRUE(slow->WaitFor("PONG"));
  slow->PauseReading();
  auto pub = Client();
  pub->Send(kQuietConnect);
  std::string payload(60000, 'x');
  std::string op = "PUB flood " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (server_->stats().slow_consumers == 0 && std::chrono::steady_clock::now() < deadline) {
    for (int i = 0; i < 20; ++i) pub->Send(op);
    loop_.RunFor(5ms);
  }
  EXPECT_EQ(server_->stats().slow_consumers, 1u);
  pub->Send("PING\r\n");
  EXPECT_TRUE(pub->WaitFor("PONG"));
  EXPECT_FALSE(pub->closed());
}

TEST_F(ProtocolTest, WriteDeadlineClosesAClientThatStopsReadingAndKeepsTheOthers) {
  Options o;
  o.write_deadline = 300ms;  // max_pending stays 64 MiB: the deadline closes it first
  StartServer(o);
  auto slow = Client();
  slow->Send(kQuietConnect);
  slow->Send("SUB flood 1\r\nPING\r\n");
  ASSERT_TRUE(slow->WaitFor("PONG"));
  slow->PauseReading();
  auto healthy = Client();
  healthy->Send(kQuietConnect);
  healthy->Send("SUB flood 1\r\nPING\r\n");
  ASSERT_TRUE(healthy->WaitFor("PONG"));
  auto pub = Client();
  pub->Send(kQuietConnect);
  std::string payload(16000, 'x');
  std::string op = "PUB flood " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
  auto deadline = std::chrono::steady_clock::now() + 20s;
  size_t published = 0;
  while (server_->stats().slow_consumers == 0 && std::chrono::steady_clock::now() < deadline) {
    // ~3 MB/s: the kernel buffers fill, then the blocked write outlives the deadline long
    // before 64 MiB are pending.
    pub->Send(op);
    ++published;
    healthy->received().clear();  // keeps the test's memory flat
    loop_.RunFor(5ms);
  }
  EXPECT_EQ(server_->stats().slow_consumers, 1u);
  slow->ResumeReading();  // reads what was queued, then sees the server's close
  EXPECT_TRUE(slow->WaitClosed());
  pub->Send("PUB after 2\r\nok\r\nPING\r\n");
  EXPECT_TRUE(pub->WaitFor("PONG"));
  EXPECT_FALSE(pub->closed());
  healthy->Send("SUB after 2\r\nPING\r\n");
  ASSERT_TRUE(healthy->WaitFor("PONG"));
  pub->Send("PUB after 2\r\nok\r\n");
  EXPECT_TRUE(healthy->WaitFor("MSG after 2 2\r\nok\r\n"));
  EXPECT_FALSE(healthy->closed());
  EXPECT_GT(published, 0u);
}

TEST_F(ProtocolTest, MonitorCountsConnectionsAndSubscriptions) {
  StartServer();
  monitor::Monitor mon(loop_, *server_);
  auto c = Client();
  c->Send(kQuietConnect);
  c->Send("SUB a 1\r\nPING\r\n");
  ASSERT_TRUE(c->WaitFor("PONG"));
  EXPECT_NE(mon.Varz().find("\"connections\":1"), std::string::npos) << mon.Varz();
  EXPECT_NE(mon.Connz(true).find("\"subscriptions_list\":[\"a\"]"), std::string::npos);
  EXPECT_NE(mon.Subsz().find("\"num_subscriptions\":1"), std::string::npos);
  EXPECT_EQ(mon.Healthz(), "{\"status\":\"ok\"}");
}

TEST_F(ProtocolTest, ConnzPagesWithOffsetAndLimit) {
  StartServer();
  monitor::Monitor mon(loop_, *server_);
  auto a = Client();
  auto b = Client();
  a->Send("PING\r\n");
  b->Send("PING\r\n");
  ASSERT_TRUE(a->WaitFor("PONG") && b->WaitFor("PONG"));
  std::string page = mon.Connz(false, 1, 1);
  EXPECT_NE(page.find("\"num_connections\":1,\"total\":2,\"offset\":1,\"limit\":1"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("\"cid\":2"), std::string::npos) << page;
}

}  // namespace
}  // namespace meridian::server
