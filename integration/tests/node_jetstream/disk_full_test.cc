// A full disk under meridian-node's JetStream store, for real: the node runs with its store on
// a small tmpfs (mounted in a private mount namespace by `unshare`, so no host mount is left
// behind), and a libnats client publishes until the disk is full. Publishes then fail with
// JetStream's "insufficient resources" error and nothing else changes: every acknowledged
// message is served, byte for byte; once space is freed (another stream deleted) publishing
// works again with the next sequence; filled again, a kill -9 and restart on the full disk
// loses nothing acknowledged. The node's log says so once per episode.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "harness/binaries.h"
#include "harness/gtest_support.h"
#include "harness/health.h"
#include "harness/ports.h"
#include "harness/process.h"
#include "harness/text.h"
#include "js_test_util.h"

namespace meridian::node_js_it {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kQuota = "6m";  // the tmpfs the store lives on

// meridian-node with its store on a tmpfs of kQuota, under a small shell supervisor in a
// private user and mount namespace: the tmpfs lives as long as the supervisor, which starts
// the node again whenever it exits, so a kill -9 of the node (NodePid) is a crash and restart
// on the same full disk. Stopping the supervisor's process group ends both.
class NodeOnSmallDisk {
 public:
  explicit NodeOnSmallDisk(const fs::path& dir)
      : port_(harness::FreeLoopbackPort()),
        http_port_(harness::FreeLoopbackPort()),
        store_(dir / "store"),
        pid_file_(dir / "node.pid") {
    fs::create_directories(store_);
    const fs::path conf = dir / "node.toml";
    std::ofstream(conf) << "host = \"127.0.0.1\"\nport = " << port_
                        << "\nhttp_host = \"127.0.0.1\"\nhttp_port = " << http_port_
                        << "\n[jetstream]\nstore_dir = \"" << store_.string()
                        << "\"\nsync_interval = \"always\"\n";
    const std::string script = "mount -t tmpfs -o size=" + std::string(kQuota) + " meridian-test " +
                               harness::ShellQuote(store_.string()) +
                               " || exit 97\nwhile :; do\n  " +
                               harness::ShellQuote(harness::OurBinary("meridian-node").string()) +
                               " -c " + harness::ShellQuote(conf.string()) + " &\n  echo $! > " +
                               harness::ShellQuote(pid_file_.string()) + "\n  wait $!\ndone\n";
    harness::ProcessSpec spec;
    spec.argv = {"unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script};
    spec.log_path = dir / "node.log";
    process_ = std::make_unique<harness::Process>(spec);
    harness::WaitForHealthz(*process_, http_port_);
  }
  ~NodeOnSmallDisk() { process_->Kill(); }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  harness::Process& process() { return *process_; }

  pid_t NodePid() const {
    std::ifstream in(pid_file_);
    pid_t pid = -1;
    in >> pid;
    return pid;
  }

  // SIGKILL of the node alone; the supervisor starts it again on the same tmpfs.
  void KillNodeAndWaitForRestart() {
    const pid_t old = NodePid();
    ASSERT_GT(old, 0);
    ASSERT_EQ(::kill(old, SIGKILL), 0);
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (NodePid() == old && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
    ASSERT_NE(NodePid(), old) << process_->LogTail();
    harness::WaitForHealthz(*process_, http_port_);
  }

 private:
  uint16_t port_;
  uint16_t http_port_;
  fs::path store_;
  fs::path pid_file_;
  std::unique_ptr<harness::Process> process_;
};

struct PublishResult {
  bool ok = false;
  uint64_t seq = 0;
  jsErrCode code = static_cast<jsErrCode>(0);
  std::string error;
};

PublishResult Publish(jsCtx* js, const std::string& subject, const std::string& payload) {
  PublishResult r;
  jsPubAck* pa = nullptr;
  natsStatus s = js_Publish(&pa, js, subject.c_str(), payload.data(),
                            static_cast<int>(payload.size()), nullptr, &r.code);
  if (s == NATS_OK && pa != nullptr) {
    r.ok = true;
    r.seq = pa->Sequence;
  } else {
    r.error = std::string(natsStatus_GetText(s)) + " (" + nats_GetLastError(nullptr) + ")";
  }
  if (pa != nullptr) jsPubAck_Destroy(pa);
  return r;
}

// The payload of message `seq` of `stream` (STREAM.MSG.GET: no consumer, nothing written).
std::string Get(jsCtx* js, const char* stream, uint64_t seq) {
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_GetMsg(&raw, js, stream, seq, nullptr, &code) != NATS_OK) {
    return "<not served: code " + std::to_string(code) + ">";
  }
  Msg m(raw);
  return Data(m.get());
}

std::string PayloadOf(uint64_t n) {
  std::string p = "m" + std::to_string(n) + ":";
  p.resize(1024, static_cast<char>('a' + n % 26));
  return p;
}

TEST(DiskFull, PublishesFailWithInsufficientResourcesAndEveryAcknowledgedMessageStays) {
  harness::TestRunDir dir;
  std::unique_ptr<NodeOnSmallDisk> node;
  try {
    node = std::make_unique<NodeOnSmallDisk>(dir.path());
  } catch (const std::exception& e) {
    FAIL() << "could not start meridian-node on a tmpfs in a private mount namespace "
              "(`unshare --user --map-root-user --mount` and `mount -t tmpfs` must be allowed): "
           << e.what();
  }
  Nc nc = Connect(node->url());
  ASSERT_TRUE(nc);
  Js js = JetStream(nc.get());
  AddFileStream(js.get(), "SPARE", "spare.>");
  AddFileStream(js.get(), "FULL", "full.>");
  // Some space taken by another stream, freed at the end.
  std::map<uint64_t, std::string> spare;
  for (uint64_t n = 1; n <= 200; ++n) {
    PublishResult r = Publish(js.get(), "spare.x", PayloadOf(n));
    ASSERT_TRUE(r.ok) << "spare " << n << ": " << r.error << " code " << r.code;
    spare[r.seq] = PayloadOf(n);
  }

  std::map<uint64_t, std::string> acked;  // FULL's acknowledged messages
  uint64_t n = 0;
  // Fills the disk: every publish acknowledged until the first refusal, then refusals only.
  auto fill = [&](const char* round) {
    const size_t before = acked.size();
    PublishResult refused;
    while (n < 100000) {
      PublishResult r = Publish(js.get(), "full.x", PayloadOf(++n));
      if (!r.ok) {
        refused = r;
        break;
      }
      acked[r.seq] = PayloadOf(n);
    }
    ASSERT_FALSE(refused.ok) << round << ": the disk never filled";
    EXPECT_EQ(refused.code, 10023) << refused.error;  // JSInsufficientResourcesErr
    std::cerr << "[disk-full] " << round << ": " << acked.size() - before
              << " x 1 KiB acknowledged, then code " << refused.code << ", " << refused.error
              << "\n";
    for (int i = 0; i < 5; ++i) {
      PublishResult r = Publish(js.get(), "full.x", PayloadOf(++n));
      EXPECT_FALSE(r.ok) << round << ": accepted on a full disk: seq " << r.seq;
      EXPECT_EQ(r.code, 10023) << r.error;
    }
  };
  // Everything acknowledged is served, byte for byte; the node did not lose JetStream.
  auto check_all = [&](const char* when) {
    jsStreamInfo* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_GetStreamInfo(&raw, js.get(), "FULL", nullptr, &code), NATS_OK)
        << when << ": stream info, code " << code;
    StreamInfo si(raw);
    EXPECT_EQ(si->State.Msgs, acked.size()) << when;
    EXPECT_EQ(si->State.LastSeq, acked.rbegin()->first) << when;
    for (const auto& [seq, payload] : acked) {
      ASSERT_EQ(Get(js.get(), "FULL", seq), payload) << when << ": FULL seq " << seq;
    }
    for (const auto& [seq, payload] : spare) {
      ASSERT_EQ(Get(js.get(), "SPARE", seq), payload) << when << ": SPARE seq " << seq;
    }
  };

  fill("first fill");
  if (HasFatalFailure()) return;
  check_all("on the full disk");

  // Space freed: publishing works again, with the next sequence (a refused publish used none).
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_DeleteStream(js.get(), "SPARE", nullptr, &code), NATS_OK) << "code " << code;
  spare.clear();
  PublishResult again = Publish(js.get(), "full.x", PayloadOf(++n));
  ASSERT_TRUE(again.ok) << "publishes still refused after a stream was deleted: " << again.error
                        << " code " << again.code;
  EXPECT_EQ(again.seq, acked.rbegin()->first + 1) << "a refused publish used a sequence";
  acked[again.seq] = PayloadOf(n);
  check_all("after space was freed");

  // Full again, then kill -9 and restart on the same, still full, disk: nothing acknowledged
  // is lost, no half record is served.
  fill("second fill");
  if (HasFatalFailure()) return;
  js.reset();
  nc.reset();
  node->KillNodeAndWaitForRestart();
  if (HasFatalFailure()) return;
  nc = Connect(node->url());
  ASSERT_TRUE(nc);
  js = JetStream(nc.get());
  check_all("after kill -9 and restart on the full disk");

  // The operator was told once per episode, not once per refused publish: a warning when the
  // disk filled (twice) and a line when publishes were stored again.
  const std::string log = harness::ReadTextFile(dir.path() / "node.log");
  auto count = [&](const std::string& what) {
    size_t k = 0;
    for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++k;
    return k;
  };
  EXPECT_EQ(count("stream FULL: write failed: No space left on device"), 2u) << log;
  EXPECT_EQ(count("publishes to it are refused (10023 insufficient resources)"), 2u) << log;
  EXPECT_EQ(count("stream FULL: stores publishes again, after 6 refused for want of disk space"),
            1u)
      << log;
}

}  // namespace
}  // namespace meridian::node_js_it
