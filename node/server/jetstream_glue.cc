#include "server/jetstream_glue.h"

#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "jetstream/engine.h"
#include "net/loop.h"
#include "spdlog/spdlog.h"

namespace meridian::server {

namespace fs = std::filesystem;

class AccountJetStream::Out : public jetstream::Outbound {
 public:
  Out(SendFn& send, InterestFn interest, SubscribeFn subscribe, UnsubscribeFn unsubscribe,
      std::function<void(Queued)> enqueue)
      : send_(send),
        interest_(std::move(interest)),
        subscribe_(std::move(subscribe)),
        unsubscribe_(std::move(unsubscribe)),
        enqueue_(std::move(enqueue)) {}
  void Send(std::string_view subject, std::string_view reply, std::string_view headers,
            std::string_view payload) override {
    send_(subject, reply, headers, payload, {});
  }
  void SendAs(std::string_view deliver_to, std::string_view subject, std::string_view reply,
              std::string_view headers, std::string_view payload) override {
    send_(deliver_to, reply, headers, payload, subject);
  }
  bool HasInterest(std::string_view subject) override { return interest_(subject); }
  // Internal subscriptions of external sources: what arrives is queued and handed to the
  // engine from the loop (it may arrive while the engine is sending).
  void Subscribe(std::string_view subject) override {
    std::string key(subject);
    if (subs_.count(key)) return;
    auto enqueue = enqueue_;
    subs_[key] = subscribe_(subject, [enqueue](std::string_view s, std::string_view shown,
                                               std::string_view r, std::string_view h,
                                               std::string_view p) {
      enqueue(Queued{true, std::string(s), std::string(shown), std::string(r), std::string(h),
                     std::string(p)});
    });
  }
  void Unsubscribe(std::string_view subject) override {
    auto it = subs_.find(std::string(subject));
    if (it == subs_.end()) return;
    unsubscribe_(it->second);
    subs_.erase(it);
  }
  void UnsubscribeAll() {
    for (auto& [s, h] : subs_) unsubscribe_(h);
    subs_.clear();
  }

 private:
  SendFn& send_;
  InterestFn interest_;
  SubscribeFn subscribe_;
  UnsubscribeFn unsubscribe_;
  std::function<void(Queued)> enqueue_;
  std::map<std::string, void*> subs_;
};

// PubAcks that became due (possibly on a store's sync thread), waiting for the loop.
struct AccountJetStream::AckQueue {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> items;  // reply, body
  AccountJetStream* owner = nullptr;                       // loop thread only
  std::thread::id loop_thread = std::this_thread::get_id();
};

namespace {

// Marks the engine busy for the scope of a call into it (see AccountJetStream::Handle).
struct Busy {
  explicit Busy(int& n) : n_(n) { ++n_; }
  ~Busy() { --n_; }
  int& n_;
};

std::string DefaultStoreDir() {
  const char* tmp = std::getenv("TMPDIR");
  return (fs::path(tmp && *tmp ? tmp : "/tmp") / "nats").string();
}

}  // namespace

std::string JetStreamStoreDir(const JetStreamOptions& options) {
  std::string root = options.store_dir.empty() ? DefaultStoreDir() : options.store_dir;
  return (fs::path(root) / "jetstream").string();
}

AccountJetStream::AccountJetStream(net::Loop& loop, const JetStreamOptions& options,
                                   const std::string& account, const std::string& server_name,
                                   SendFn send, InterestFn interest, SubscribeFn subscribe,
                                   UnsubscribeFn unsubscribe)
    : loop_(loop), send_(std::move(send)), acks_(std::make_shared<AckQueue>()) {
  acks_->owner = this;
  directory_ = (fs::path(JetStreamStoreDir(options)) / account).string();
  api_prefix_ = "$JS.API.";
  if (!options.domain.empty()) domain_prefix_ = "$JS." + options.domain + ".API.";
  std::weak_ptr<AckQueue> weak_q = acks_;
  out_ = std::make_unique<Out>(send_, std::move(interest), std::move(subscribe),
                               std::move(unsubscribe), [weak_q](Queued q) {
                                 auto a = weak_q.lock();
                                 if (a && a->owner) a->owner->Enqueue(std::move(q));
                               });
  jetstream::EngineOptions eo;
  eo.store_dir = directory_;
  eo.server_name = server_name;
  eo.domain = options.domain;
  eo.sync_always = options.sync_always;
  eo.sync_interval = options.sync_interval;
  // The PubAcks of a lone sync publish are then sent from the loop thread right after its
  // fdatasync, without waking the sync thread and being woken back (see KickSyncs).
  eo.kick_syncs = options.sync_always;
  eo.consumer_deleted = [this](const std::string& stream, const std::string& consumer) {
    if (consumer_deleted_) consumer_deleted_(stream, consumer);
  };
  eo.warn = [account](const std::string& text) {
    spdlog::warn("JetStream account {}: {}", account, text);
  };
  // A source waiting for its origin to sync is woken from the origin store's sync thread:
  // hop to the loop and copy (as the publish acks do).
  std::weak_ptr<AckQueue> weak = acks_;
  net::Loop* wake_loop = &loop_;
  eo.wake_sources = [weak, wake_loop] {
    if (weak.expired()) return;
    wake_loop->Post([weak] {
      auto q = weak.lock();
      if (q && q->owner) q->owner->PumpSources();
    });
  };
  // A consumer-state write finished on the engine's writer thread: collect it on the loop
  // (sends the ack-acks it made durable).
  eo.state_written = [weak, wake_loop] {
    if (weak.expired()) return;
    wake_loop->Post([weak] {
      auto q = weak.lock();
      if (!q || !q->owner || q->owner->closed_) return;
      if (q->owner->busy_ > 0) return;  // never re-entered; the next Tick() collects it
      Busy b(q->owner->busy_);
      q->owner->engine_->StateWritten();
    });
  };
  std::string error;
  engine_ = jetstream::Engine::Open(eo, out_.get(), &error);
  if (!engine_) {
    throw std::runtime_error("JetStream for account \"" + account + "\" cannot start: " + error);
  }
  if (eo.kick_syncs) {
    kick_syncs_ = loop_.AtIterationEnd([this] {
      if (!closed_) engine_->KickSyncs();
    });
  }
}

AccountJetStream::~AccountJetStream() {
  Close();
  acks_->owner = nullptr;
}

void AccountJetStream::Enqueue(Queued q) {
  if (closed_) return;
  queued_.push_back(std::move(q));
  PostDrain();
}

void AccountJetStream::PostDrain() {
  if (queue_posted_) return;
  queue_posted_ = true;
  std::weak_ptr<AckQueue> weak = acks_;
  loop_.Post([weak] {
    auto a = weak.lock();
    if (a && a->owner) a->owner->DrainQueued();
  });
}

void AccountJetStream::DrainQueued() {
  queue_posted_ = false;
  if (busy_ > 0) {  // never from inside the engine (a posted task is not): next turn
    PostDrain();
    return;
  }
  // In arrival order; what arrives meanwhile is queued behind and posted again.
  // A run of consecutive inbound messages (deliveries of external sources) is bracketed so
  // the copies are written together; anything else is handled outside the brackets.
  std::vector<Queued> batch;
  batch.swap(queued_);
  bool bracket = false;
  for (size_t i = 0; i < batch.size() && !closed_; ++i) {
    Queued& q = batch[i];
    if (q.inbound) {
      Busy b(busy_);
      if (!bracket) engine_->BeginInbound();
      bracket = true;
      engine_->HandleInbound(q.subject, q.shown, q.reply, q.headers, q.payload);
      continue;
    }
    if (bracket) {
      Busy b(busy_);
      engine_->EndInbound();
      bracket = false;
    }
    (void)Handle(q.subject, q.reply, q.headers, q.payload);  // marks the engine busy itself
  }
  if (bracket && !closed_) {
    Busy b(busy_);
    engine_->EndInbound();
  }
  PumpSources();
}

bool AccountJetStream::Handle(std::string_view subject, std::string_view reply,
                              std::string_view headers, std::string_view payload) {
  if (closed_) return false;
  if (busy_ > 0) {
    // Re-entered through another account: the engine is in the middle of a call.
    const bool take = subject.starts_with("$JS.") || engine_->Captures(subject);
    if (take) {
      Enqueue(Queued{false, std::string(subject), {}, std::string(reply), std::string(headers),
                     std::string(payload)});
    }
    return take;
  }
  Busy b(busy_);
  if (subject.starts_with("$JS.")) {
    if (subject.starts_with(api_prefix_) ||
        (!domain_prefix_.empty() && subject.starts_with(domain_prefix_))) {
      reply_body_.clear();
      if (engine_->HandleApi(subject, reply, headers, payload, &reply_body_) && !reply.empty()) {
        send_(reply, {}, {}, reply_body_, {});
      }
      NotePullWake();
      return true;
    }
    if (subject.starts_with("$JS.ACK.")) {
      engine_->HandleAck(subject, reply, payload);
      return true;
    }
    if (subject.starts_with("$JS.FC.")) {
      engine_->HandleFlowControl(subject);
      return true;
    }
  }
  if (!engine_->Captures(subject)) return false;
  std::string reply_copy;
  if (!reply.empty()) reply_copy.assign(reply);
  std::weak_ptr<AckQueue> weak = acks_;
  net::Loop* loop = &loop_;
  engine_->Publish(
      subject, reply, headers, payload,
      [weak, loop, to = std::move(reply_copy)](std::string body) mutable {
        auto q = weak.lock();
        if (!q || to.empty()) return;
        bool first = false;
        {
          std::unique_lock<std::mutex> lock(q->mu);
          first = q->items.empty();
          if (first && q->owner != nullptr && std::this_thread::get_id() == q->loop_thread) {
            // Due at once on the loop (memory stream, interval sync, error):
            // nothing queued before it, so it can go out now, in order.
            lock.unlock();
            q->owner->send_(to, {}, {}, body, {});
            return;
          }
          q->items.emplace_back(std::move(to), std::move(body));
        }
        if (first) {
          loop->Post([weak] {
            auto q2 = weak.lock();
            if (q2 && q2->owner) q2->owner->DrainAcks();
          });
        }
      });
  return true;
}

void AccountJetStream::DrainAcks() {
  std::vector<std::pair<std::string, std::string>> batch;
  {
    std::lock_guard<std::mutex> lock(acks_->mu);
    batch.swap(acks_->items);
  }
  for (const auto& [reply, body] : batch) send_(reply, {}, {}, body, {});
}

void AccountJetStream::Tick() {
  if (closed_ || busy_ > 0) return;
  {
    Busy b(busy_);
    engine_->Tick();
  }
  PumpSources();
}

void AccountJetStream::NotePullWake() {
  const int64_t in_ns = engine_->TakePullWakeNs();
  if (in_ns < 0) return;
  pull_wakes_.insert(std::chrono::steady_clock::now() + std::chrono::nanoseconds(in_ns));
  ArmPullWake();
}

void AccountJetStream::ArmPullWake() {
  if (closed_ || pull_wakes_.empty()) return;
  const auto first = *pull_wakes_.begin();
  if (pull_wake_timer_.active() && pull_wake_armed_ <= first) return;
  const auto left = first - std::chrono::steady_clock::now();
  // One millisecond of slack: the engine's clock must have reached the expiry when it runs.
  const auto delay = std::max(std::chrono::milliseconds(0),
                              std::chrono::ceil<std::chrono::milliseconds>(left)) +
                     std::chrono::milliseconds(1);
  pull_wake_armed_ = first;
  pull_wake_timer_ = loop_.After(delay, [this] {
    const auto now = std::chrono::steady_clock::now();
    while (!pull_wakes_.empty() && *pull_wakes_.begin() <= now) {
      pull_wakes_.erase(pull_wakes_.begin());
    }
    Tick();
    ArmPullWake();
  });
}

void AccountJetStream::PumpSources() {
  if (closed_ || pump_posted_ || busy_ > 0) return;
  bool more = false;
  {
    Busy b(busy_);
    more = engine_->PumpSources();
  }
  if (!more) return;
  pump_posted_ = true;
  std::weak_ptr<AckQueue> weak = acks_;
  loop_.Post([weak] {
    auto q = weak.lock();
    if (!q || q->owner == nullptr) return;
    q->owner->pump_posted_ = false;
    q->owner->PumpSources();
  });
}

void AccountJetStream::Close() {
  if (closed_) return;
  closed_ = true;
  pull_wake_timer_.Cancel();
  kick_syncs_.Cancel();
  out_->UnsubscribeAll();
  queued_.clear();
  engine_->Close();
  DrainAcks();
}

std::string AccountJetStream::StreamDetailsJson(bool with_config) const {
  return closed_ ? "[]" : engine_->StreamDetailsJson(with_config);
}

JetStreamAccountStats AccountJetStream::Stats() const {
  JetStreamAccountStats s;
  if (closed_) return s;
  auto j = nlohmann::json::parse(engine_->AccountInfoJson(), nullptr, false);
  if (!j.is_object()) return s;
  s.memory = j.value("memory", uint64_t{0});
  s.storage = j.value("storage", uint64_t{0});
  s.streams = j.value("streams", uint64_t{0});
  s.consumers = j.value("consumers", uint64_t{0});
  s.messages = j.value("messages", uint64_t{0});
  if (auto api = j.find("api"); api != j.end() && api->is_object()) {
    s.api_total = api->value("total", uint64_t{0});
    s.api_errors = api->value("errors", uint64_t{0});
  }
  return s;
}

}  // namespace meridian::server
