// The `meridian` binary against one shared 3x3 super-cluster of stock nats-server 2.9.10
// (accounts $SYS sys/sys and APP app/app): messaging, stream reports, server reports, the
// operator actions of a disaster drill, and the errors an operator meets.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/nats_cluster.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "harness/text.h"

namespace meridian::clitest {
namespace {

using nlohmann::json;

struct RunResult {
  int code = -1;
  std::string out, err;
};

class Cli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    run_dir_ = new harness::TestRunDir("Cli");
    cluster_ = new harness::NatsSuperCluster(run_dir_->path(), {});
    try {
      cluster_->Start();
      started_ = true;
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    delete run_dir_;
    run_dir_ = nullptr;
  }
  void SetUp() override {
    if (!started_) GTEST_SKIP() << "the super-cluster did not start (see the first failure)";
  }

  static std::filesystem::path ContextFile() { return run_dir_->path() / "contexts.toml"; }

  // Runs `meridian args...` with no context; returns exit code, stdout, stderr.
  static RunResult Run(const std::vector<std::string>& args) {
    static int n = 0;
    auto err_path = run_dir_->path() / ("cli-" + std::to_string(++n) + ".err");
    std::string cmd = "MERIDIAN_CONTEXT_FILE=" + harness::ShellQuote(ContextFile().string()) + " " +
                      harness::ShellQuote(harness::OurBinary("meridian").string());
    for (const auto& a : args) cmd += " " + harness::ShellQuote(a);
    cmd += " 2>" + harness::ShellQuote(err_path.string());
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
    int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = harness::ReadTextFile(err_path);
    return r;
  }

  static std::vector<std::string> As(const std::string& region, bool system,
                                     std::vector<std::string> args) {
    auto cred = system ? cluster_->system_user() : cluster_->app_user();
    std::vector<std::string> out = {"--server",   cluster_->ClientUrls(region),
                                    "--user",     cred->user,
                                    "--password", cred->password};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }
  static RunResult App(const std::string& region, std::vector<std::string> args) {
    return Run(As(region, false, std::move(args)));
  }
  static RunResult Sys(std::vector<std::string> args) {
    return Run(As("east", true, std::move(args)));
  }

  // Creates a stream through `meridian req` (retrying while R3 groups elect leaders).
  static void CreateStream(const std::string& name, const std::string& subject,
                           const std::string& cluster, int replicas) {
    json cfg = {{"name", name},
                {"subjects", {subject}},
                {"storage", "file"},
                {"num_replicas", replicas},
                {"placement", {{"cluster", cluster}}}};
    std::string last;
    for (int attempt = 0; attempt < 120; ++attempt) {
      RunResult r = App(cluster, {"req", "$JS.API.STREAM.CREATE." + name, cfg.dump(), "--json"});
      if (r.code == 0) {
        json reply = json::parse(json::parse(r.out).value("data", "{}"));
        if (!reply.contains("error")) return;
        last = reply.dump();
      } else {
        last = r.err;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    FAIL() << "could not create stream " << name << ": " << last;
  }

  static json StreamInfoJson(const std::string& region, const std::string& name) {
    RunResult r = App(region, {"stream", "info", name, "--json"});
    if (r.code != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  static inline harness::TestRunDir* run_dir_ = nullptr;
  static inline harness::NatsSuperCluster* cluster_ = nullptr;
  static inline bool started_ = false;
};

TEST_F(Cli, PubReachesSubInAnotherRegionWithHeaders) {
  auto app = cluster_->app_user();
  // Gateway interest reaches the other regions asynchronously (on a loaded machine it can
  // take seconds), so the subscriber/publisher pair is retried until both messages arrive.
  std::string log;
  std::vector<json> msgs;
  std::optional<harness::ExitStatus> st;
  for (int attempt = 1; attempt <= 6; ++attempt) {
    harness::ProcessSpec spec;
    spec.argv = {harness::OurBinary("meridian").string(),
                 "--server",
                 cluster_->ClientUrls("west"),
                 "--user",
                 app->user,
                 "--password",
                 app->password,
                 "sub",
                 "cli.pubsub.>",
                 "--count",
                 "2",
                 "--json",
                 "--timeout",
                 "10s"};
    spec.log_path = run_dir_->path() / ("sub-" + std::to_string(attempt) + ".log");
    harness::Process sub(spec);
    // "Subscribing" is printed once the server confirmed the subscription (PONG); then give
    // the interest a moment to reach the other regions' gateways.
    for (int i = 0;
         i < 300 && harness::ReadTextFile(spec.log_path).find("Subscribing") == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300 * attempt));
    RunResult pub = App("east", {"pub", "cli.pubsub.a", "hello {{Count}}", "--count", "2",
                                 "--header", "X-Trace:abc"});
    ASSERT_EQ(pub.code, 0) << pub.err;
    EXPECT_NE(pub.out.find("Published 2 messages"), std::string::npos) << pub.out;
    st = sub.Wait(std::chrono::seconds(30));
    ASSERT_TRUE(st.has_value()) << sub.LogTail();
    log = harness::ReadTextFile(spec.log_path);
    msgs.clear();
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      auto j = json::parse(line, nullptr, false);
      if (j.is_object()) msgs.push_back(j);
    }
    if (st->code == 0 && msgs.size() == 2) break;
  }
  EXPECT_EQ(st->code, 0) << log;
  ASSERT_EQ(msgs.size(), 2u) << log;
  EXPECT_EQ(msgs[0]["subject"], "cli.pubsub.a");
  EXPECT_EQ(msgs[0]["data"], "hello 1");
  EXPECT_EQ(msgs[1]["data"], "hello 2");
  EXPECT_EQ(msgs[0]["headers"]["X-Trace"][0], "abc");
}

TEST_F(Cli, ReqPrintsTheReplyOfJetStream) {
  RunResult r = App("central", {"req", "$JS.API.INFO", ""});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_EQ(j["type"], "io.nats.jetstream.api.v1.account_info_response");
}

TEST_F(Cli, ReqWithoutRespondersFailsWithASentence) {
  RunResult r = App("central", {"req", "cli.nobody.listens", "x", "--timeout", "2s"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no responders"), std::string::npos) << r.err;
}

TEST_F(Cli, StreamLsInfoViewAndReportShowAStream) {
  CreateStream("CLIVIEW", "cliview.>", "west", 3);
  ASSERT_EQ(App("west", {"pub", "cliview.one", "body-{{Count}}", "--count", "3", "-H", "K:v"}).code,
            0);
  // A publish without an ack may land a moment later: wait until the stream has all three.
  for (int i = 0; i < 240; ++i) {
    json info = StreamInfoJson("west", "CLIVIEW");
    if (info.is_object() && info["state"].value("messages", 0) == 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }

  RunResult ls = App("east", {"stream", "ls", "--json"});
  ASSERT_EQ(ls.code, 0) << ls.err;
  auto names = json::parse(ls.out);
  EXPECT_NE(std::find(names.begin(), names.end(), "CLIVIEW"), names.end()) << ls.out;
  RunResult lst = App("east", {"stream", "ls"});
  EXPECT_NE(lst.out.find("│ CLIVIEW"), std::string::npos) << lst.out;

  RunResult info = App("west", {"stream", "info", "CLIVIEW"});
  ASSERT_EQ(info.code, 0) << info.err;
  EXPECT_NE(info.out.find("Subjects: cliview.>"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Name: west"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("Messages: 3"), std::string::npos) << info.out;
  json ij = StreamInfoJson("west", "CLIVIEW");
  EXPECT_EQ(ij["config"]["num_replicas"], 3);
  EXPECT_EQ(ij["cluster"]["name"], "west");

  RunResult view = App("west", {"stream", "view", "CLIVIEW", "--count", "2"});
  ASSERT_EQ(view.code, 0) << view.err;
  EXPECT_NE(view.out.find("[1] Subject: cliview.one"), std::string::npos) << view.out;
  EXPECT_NE(view.out.find("K: v"), std::string::npos) << view.out;
  EXPECT_NE(view.out.find("body-2"), std::string::npos) << view.out;
  EXPECT_EQ(view.out.find("body-3"), std::string::npos) << "--count 2 shows two: " << view.out;
  RunResult vj = App("west", {"stream", "view", "CLIVIEW", "--json"});
  auto vmsgs = json::parse(vj.out);
  ASSERT_EQ(vmsgs.size(), 3u) << vj.out;
  EXPECT_EQ(vmsgs[2]["seq"], 3);
  EXPECT_EQ(vmsgs[2]["data"], "body-3");
  EXPECT_EQ(vmsgs[2]["headers"]["K"][0], "v");
  EXPECT_FALSE(vmsgs[2]["time"].get<std::string>().empty());

  RunResult rep = App("east", {"stream", "report"});
  ASSERT_EQ(rep.code, 0) << rep.err;
  std::string row;
  std::istringstream lines(rep.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("│ CLIVIEW ") != std::string::npos) row = line;
  }
  ASSERT_FALSE(row.empty()) << rep.out;
  EXPECT_NE(row.find("│ File "), std::string::npos) << row;
  EXPECT_NE(row.find("│ west "), std::string::npos) << row;
  EXPECT_NE(row.find("│ 3 "), std::string::npos) << row;
  EXPECT_NE(row.find("*"), std::string::npos) << "leader starred: " << row;
  RunResult rj = App("east", {"stream", "report", "--json"});
  auto report = json::parse(rj.out);
  bool found = false;
  for (const auto& s : report) {
    if (s["stream"] != "CLIVIEW") continue;
    found = true;
    EXPECT_EQ(s["messages"], 3);
    EXPECT_EQ(s["cluster"], "west");
    EXPECT_EQ(s["num_replicas"], 3);
    EXPECT_FALSE(s["leader"].get<std::string>().empty());
    EXPECT_EQ(s["replicas"].size(), 2u);
  }
  EXPECT_TRUE(found) << rj.out;
}

TEST_F(Cli, ServerReportJetStreamListsEveryServerAndTheMetaLeader) {
  RunResult r = Sys({"server", "report", "jetstream", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out);
  std::set<std::string> names;
  for (const auto& s : j["servers"]) names.insert(s["name"].get<std::string>());
  for (const auto& s : cluster_->servers()) EXPECT_TRUE(names.count(s.name)) << s.name;
  std::string leader = cluster_->MetaLeader("east-1");
  EXPECT_EQ(j["meta"]["leader"], leader);
  EXPECT_EQ(j["meta"]["peers"].size(), cluster_->servers().size());

  RunResult t = Sys({"server", "report", "jetstream"});
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.out.find("JetStream Summary"), std::string::npos);
  EXPECT_NE(t.out.find("RAFT Meta Group Information"), std::string::npos);
  EXPECT_NE(t.out.find("│ " + leader + "* "), std::string::npos) << t.out;
}

TEST_F(Cli, ServerReportNeedsTheSystemAccount) {
  RunResult r = App("east", {"server", "report", "jetstream"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("system account"), std::string::npos) << r.err;
}

TEST_F(Cli, RaftStepDownElectsAnotherMetaLeader) {
  std::string before = cluster_->MetaLeader("west-1");
  ASSERT_FALSE(before.empty());
  RunResult r = Sys({"server", "raft", "step-down", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto j = json::parse(r.out);
  EXPECT_EQ(j["previous_leader"], before);
  EXPECT_NE(j["leader"], before);
  std::string after;
  for (int i = 0; i < 240 && (after.empty() || after == before); ++i) {
    after = cluster_->MetaLeader("west-1");
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_NE(after, before);
  EXPECT_EQ(after, j["leader"]);
}

TEST_F(Cli, StreamEditScalesReplicas) {
  CreateStream("CLIEDIT", "cliedit.>", "central", 1);
  RunResult r = App("central", {"stream", "edit", "CLIEDIT", "--replicas", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Replicas: 3"), std::string::npos) << r.out;
  size_t replicas = 0;
  for (int i = 0; i < 240 && replicas != 2; ++i) {
    json info = StreamInfoJson("central", "CLIEDIT");
    if (info.is_object() && info.contains("cluster") && info["cluster"].contains("replicas")) {
      replicas = info["cluster"]["replicas"].size();
    }
    if (replicas != 2) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(replicas, 2u);
  EXPECT_EQ(StreamInfoJson("central", "CLIEDIT")["config"]["num_replicas"], 3);
}

TEST_F(Cli, StreamEditWithATagMovesTheStreamToTheTaggedServer) {
  CreateStream("CLITAG", "clitag.>", "central", 1);
  std::string leader;
  for (int i = 0; i < 240 && leader.empty(); ++i) {
    json info = StreamInfoJson("central", "CLITAG");
    if (info.is_object() && info.contains("cluster")) leader = info["cluster"].value("leader", "");
    if (leader.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  ASSERT_FALSE(leader.empty());
  // Servers are tagged az:<index>; pick a central server that does not hold the stream.
  std::string target = leader == "central-1" ? "central-2" : "central-1";
  std::string tag = "az:" + target.substr(target.size() - 1);
  RunResult r = App("central", {"stream", "edit", "CLITAG", "--tag", tag});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Placement Tags: " + tag), std::string::npos) << r.out;
  std::string now;
  for (int i = 0; i < 240 && now != target; ++i) {
    json info = StreamInfoJson("central", "CLITAG");
    if (info.is_object() && info.contains("cluster")) now = info["cluster"].value("leader", "");
    if (now != target) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_EQ(now, target) << "the stream stayed on " << leader;
}

TEST_F(Cli, StreamClusterPeerRemoveReplacesAReplica) {
  CreateStream("CLIPEER", "clipeer.>", "east", 2);
  std::string replica;
  for (int i = 0; i < 240 && replica.empty(); ++i) {
    json info = StreamInfoJson("east", "CLIPEER");
    if (info.is_object() && info.contains("cluster") && info["cluster"].contains("replicas") &&
        !info["cluster"]["replicas"].empty()) {
      replica = info["cluster"]["replicas"][0]["name"];
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  ASSERT_FALSE(replica.empty());
  RunResult r = App("east", {"stream", "cluster", "peer-remove", "CLIPEER", replica});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Removed peer " + replica), std::string::npos) << r.out;
  bool gone = false;
  for (int i = 0; i < 240 && !gone; ++i) {
    json info = StreamInfoJson("east", "CLIPEER");
    if (info.is_object() && info.contains("cluster")) {
      std::set<std::string> peers;
      peers.insert(info["cluster"].value("leader", ""));
      for (const auto& p : info["cluster"].value("replicas", json::array())) {
        peers.insert(p.value("name", ""));
      }
      gone = !peers.count(replica) && peers.size() == 2 && !peers.count("");
    }
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  EXPECT_TRUE(gone) << "the replica " << replica << " was not replaced";
}

TEST_F(Cli, UnknownStreamIsNamedInTheError) {
  RunResult r = App("east", {"stream", "info", "NOSUCHSTREAM"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("there is no stream \"NOSUCHSTREAM\""), std::string::npos) << r.err;
}

TEST_F(Cli, WrongCredentialsAreRefusedWithASentence) {
  RunResult r = Run({"--server", cluster_->ClientUrls("east"), "--user", "app", "--password",
                     "wrong", "stream", "ls"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("refused the credentials"), std::string::npos) << r.err;
}

TEST_F(Cli, UnreachableServerFailsWithASentence) {
  RunResult r = Run({"--server", "nats://127.0.0.1:1", "pub", "x", "y"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("refused"), std::string::npos) << r.err;
}

TEST_F(Cli, SelectedContextIsUsedWithoutFlags) {
  auto app = cluster_->app_user();
  ASSERT_EQ(Run({"context", "add", "west", "--server", cluster_->ClientUrls("west"), "--user",
                 app->user, "--password", app->password})
                .code,
            0);
  ASSERT_EQ(Run({"context", "add", "broken", "--server", "nats://127.0.0.1:1"}).code, 0);
  ASSERT_EQ(Run({"context", "select", "west"}).code, 0);
  RunResult r = Run({"req", "$JS.API.INFO", ""});
  EXPECT_EQ(r.code, 0) << r.err;
  RunResult b = Run({"--context", "broken", "req", "$JS.API.INFO", ""});
  EXPECT_EQ(b.code, 1);
  RunResult ls = Run({"context", "ls"});
  EXPECT_NE(ls.out.find("west*"), std::string::npos) << ls.out;
}

// A standalone stock server that requires TLS: the client upgrades after INFO and verifies the
// server's certificate against --tlsca.
TEST(CliTls, PubOverTlsVerifiesTheServerCertificate) {
  harness::TestRunDir dir;
  auto d = dir.path();
  std::string gen =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
      "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 1 -keyout " +
      harness::ShellQuote((d / "key.pem").string()) + " -out " +
      harness::ShellQuote((d / "cert.pem").string()) + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(gen.c_str()), 0) << "openssl could not make a test certificate";
  uint16_t port = harness::FreeLoopbackPort();
  std::ofstream(d / "tls.conf") << "listen: 127.0.0.1:" << port << "\n"
                                << "tls { cert_file: \"" << (d / "cert.pem").string()
                                << "\"\n key_file: \"" << (d / "key.pem").string() << "\" }\n"
                                << "authorization { user: u, password: p }\n";
  harness::ProcessSpec spec;
  spec.argv = {harness::NatsServerBinary().string(), "-c", (d / "tls.conf").string()};
  spec.log_path = d / "nats-server.log";
  harness::Process server(spec);
  std::string url = "tls://127.0.0.1:" + std::to_string(port);
  auto meridian = [&](std::vector<std::string> args) {
    std::string cmd = harness::ShellQuote(harness::OurBinary("meridian").string());
    for (const auto& a : args) cmd += " " + harness::ShellQuote(a);
    cmd += " 2>&1";
    RunResult r;
    FILE* p = popen(cmd.c_str(), "r");
    char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, got);
    int status = pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
  };
  RunResult ok;
  for (int i = 0; i < 50; ++i) {
    ok = meridian({"-s", url, "--tlsca", (d / "cert.pem").string(), "--user", "u", "--password",
                   "p", "--context-file", (d / "none.toml").string(), "pub", "t", "x"});
    if (ok.code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ok.code, 0) << ok.out << server.LogTail();
  // Without the CA the server's self-signed certificate is refused.
  RunResult bad = meridian({"-s", url, "--user", "u", "--password", "p", "--context-file",
                            (d / "none.toml").string(), "pub", "t", "x"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("certificate"), std::string::npos) << bad.out;
}

// Kills a server, so it runs last (gtest runs a suite's tests in the order written).
TEST_F(Cli, RaftPeerRemoveDropsADeadServerFromTheMetaGroup) {
  // Not the meta leader: killing it would leave the group leaderless for a while.
  std::string leader = cluster_->MetaLeader("east-1");
  std::string victim = leader == "west-3" ? "west-2" : "west-3";
  cluster_->KillServer(victim);
  // The meta group may still be settling after the step-down test: while no leader answers,
  // the CLI says "no reply"; ask again until one does.
  RunResult r;
  for (int i = 0; i < 12; ++i) {
    r = Sys({"server", "raft", "peer-remove", victim});
    if (r.code == 0 || r.err.find("no reply") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Removed " + victim), std::string::npos) << r.out;
  bool gone = false;
  for (int i = 0; i < 120 && !gone; ++i) {
    RunResult rep = Sys({"server", "report", "jetstream", "--json"});
    if (rep.code == 0) {
      auto j = json::parse(rep.out);
      gone = !j["meta"]["peers"].empty();
      for (const auto& p : j["meta"]["peers"]) gone = gone && p["name"] != victim;
    }
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_TRUE(gone) << victim << " is still a meta group peer";
}

TEST_F(Cli, RaftPeerRemoveOfAnUnknownServerIsRefused) {
  RunResult r = Sys({"server", "raft", "peer-remove", "no-such-server"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("JetStream refused"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace meridian::clitest
