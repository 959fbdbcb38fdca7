#include "faultproxy/proxy.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "net/connection.h"
#include "net/endpoint.h"
#include "net/listener.h"
#include "net/loop.h"

namespace meridian::faultproxy {
namespace {

using RegionPair = std::pair<std::string, std::string>;

uint16_t PortOf(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return 0;
  try {
    return static_cast<uint16_t>(std::stoul(address.substr(colon + 1)));
  } catch (...) {
    return 0;
  }
}

// Real time in microseconds, not the loop's cached milliseconds (which lag by the iteration's
// work): delays are never shorter than asked.
uint64_t SteadyUs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

struct Chunk {
  uint64_t due_us;
  std::string bytes;
};

}  // namespace

struct ProxyTarget;
struct Session;

// One direction of a proxied connection: a delay line from `src` to `dst`.
struct Pipe {
  std::string from, to;  // regions: bytes travel from -> to
  bool toward_target = false;
  std::deque<Chunk> queue;
  size_t held = 0;
  uint64_t last_due = 0, bandwidth_free = 0;
  net::Timer timer;
  net::ConnectionPtr src, dst;
  bool src_closed = false;  // the source side closed: close dst once the queue drained
  bool src_aborted = false;
  bool dst_closing = false;
};

struct ProxyTarget {
  std::string name, region, host;
  uint16_t port = 0, listen_port = 0;
  std::unique_ptr<net::Listener> listener;
  std::optional<Faults> faults;
  CutMode cut = CutMode::kNone;
  TargetCounters counters;
};

struct Session : std::enable_shared_from_this<Session> {
  FaultProxy::Impl* impl = nullptr;
  ProxyTarget* target = nullptr;
  std::string source;  // region of the dialer
  Pipe up, down;       // up: client -> target; down: target -> client
  bool connecting = false, connected = false;
  bool client_closed = false, upstream_closed = false;
  bool finished = false;
};

struct FaultProxy::Impl {
  Options options;
  std::thread thread;
  net::Loop* loop = nullptr;

  // Loop-thread state.
  std::map<std::string, std::unique_ptr<ProxyTarget>> targets;
  std::map<RegionPair, Faults> path_faults;
  std::map<RegionPair, CutMode> cuts;  // stored under both orders
  std::map<RegionPair, PathCounters> path_counters;
  std::set<std::string> regions;
  std::set<std::shared_ptr<Session>> sessions;
  std::mt19937 rng;

  template <typename F>
  auto Call(F f) -> decltype(f()) {
    using R = decltype(f());
    auto promise = std::make_shared<std::promise<R>>();
    auto future = promise->get_future();
    loop->Post([promise, f = std::move(f)]() mutable {
      try {
        if constexpr (std::is_void_v<R>) {
          f();
          promise->set_value();
        } else {
          promise->set_value(f());
        }
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    return future.get();
  }

  CutMode CutOf(const Session& s) const {
    CutMode mode = s.target->cut;
    auto it = cuts.find({s.source, s.target->region});
    if (it != cuts.end() && it->second != CutMode::kNone) {
      // Refuse wins over black hole when both apply.
      if (mode == CutMode::kNone || it->second == CutMode::kRefuse) mode = it->second;
    }
    return mode;
  }

  Faults FaultsOf(const Session& s, const Pipe& p) const {
    if (s.target->faults) return *s.target->faults;
    auto it = path_faults.find({p.from, p.to});
    return it == path_faults.end() ? Faults{} : it->second;
  }

  void Accept(ProxyTarget* target, net::ConnectionPtr client) {
    auto s = std::make_shared<Session>();
    s->impl = this;
    s->target = target;
    if (options.identify_source) {
      s->source = options.identify_source(PortOf(client->peer_address()), target->listen_port);
    }
    regions.insert(s->source);
    s->up.from = s->down.to = s->source;
    s->up.to = s->down.from = target->region;
    s->up.toward_target = true;
    s->up.src = client;
    s->down.dst = client;
    ++target->counters.connections;
    ++path_counters[{s->source, target->region}].connections;
    CutMode mode = CutOf(*s);
    if (mode == CutMode::kRefuse) {
      ++target->counters.reset;
      client->Abort();
      return;
    }
    ++target->counters.open;
    sessions.insert(s);
    std::weak_ptr<Session> weak = s;
    client->SetCloseHandler([this, weak](const net::CloseInfo& info) {
      if (auto s = weak.lock()) OnClose(*s, /*client=*/true, info);
    });
    client->SetWatermarkHandlers(
        [this, weak] {
          if (auto s = weak.lock()) UpdateReading(*s, s->down);
        },
        [this, weak] {
          if (auto s = weak.lock()) UpdateReading(*s, s->down);
        });
    client->SetReadHandler([this, weak](std::string_view data) -> size_t {
      if (auto s = weak.lock()) OnData(*s, s->up, data);
      return data.size();
    });
    if (mode == CutMode::kNone) StartConnect(*s);
  }

  void StartConnect(Session& s) {
    if (s.connecting || s.connected || s.finished) return;
    s.connecting = true;
    std::weak_ptr<Session> weak = s.shared_from_this();
    net::ConnectOptions opts;
    opts.timeout = std::chrono::seconds(5);
    net::Connect(*loop, net::Endpoint::Tcp(s.target->host, s.target->port), opts,
                 [this, weak](net::Result<net::ConnectionPtr> result) {
                   auto s = weak.lock();
                   if (!s) {
                     if (result.ok()) result.value()->Abort();
                     return;
                   }
                   s->connecting = false;
                   if (!result.ok() || s->finished) {
                     if (result.ok()) result.value()->Abort();
                     if (!s->finished && s->up.src) s->up.src->Abort();
                     return;
                   }
                   OnUpstream(*s, std::move(result).value());
                 });
  }

  void OnUpstream(Session& s, net::ConnectionPtr upstream) {
    s.connected = true;
    s.up.dst = upstream;
    s.down.src = upstream;
    std::weak_ptr<Session> weak = s.shared_from_this();
    upstream->SetCloseHandler([this, weak](const net::CloseInfo& info) {
      if (auto s = weak.lock()) OnClose(*s, /*client=*/false, info);
    });
    upstream->SetWatermarkHandlers(
        [this, weak] {
          if (auto s = weak.lock()) UpdateReading(*s, s->up);
        },
        [this, weak] {
          if (auto s = weak.lock()) UpdateReading(*s, s->up);
        });
    upstream->SetReadHandler([this, weak](std::string_view data) -> size_t {
      if (auto s = weak.lock()) OnData(*s, s->down, data);
      return data.size();
    });
    Pump(s, s.up);
  }

  void OnData(Session& s, Pipe& p, std::string_view data) {
    Faults f = FaultsOf(s, p);
    uint64_t now = SteadyUs();
    uint64_t jitter = 0;
    if (f.jitter.count() > 0) {
      jitter = std::uniform_int_distribution<uint64_t>(0, f.jitter.count() * 1000)(rng);
    }
    uint64_t latency = static_cast<uint64_t>(f.latency.count()) * 1000;
    uint64_t due = now + latency + jitter;
    if (f.bytes_per_second > 0) {
      p.bandwidth_free =
          std::max(now, p.bandwidth_free) + data.size() * 1000000 / f.bytes_per_second;
      due = std::max(due, p.bandwidth_free + latency);
    }
    due = std::max(due, p.last_due);
    p.last_due = due;
    p.queue.push_back(Chunk{due, std::string(data)});
    p.held += data.size();
    Pump(s, p);
    UpdateReading(s, p);
  }

  void UpdateReading(Session& s, Pipe& p) {
    if (!p.src || s.finished) return;
    bool pause = p.held > options.max_held_bytes || (p.dst && p.dst->above_high_watermark());
    if (pause && !p.src->reading_paused()) p.src->PauseReading();
    if (!pause && p.src->reading_paused()) p.src->ResumeReading();
  }

  // Delivers what is due, arms the timer for the rest, passes a close on once drained.
  void Pump(Session& s, Pipe& p) {
    if (s.finished || !p.dst || p.dst_closing) return;
    if (CutOf(s) != CutMode::kNone) return;
    uint64_t now = SteadyUs();
    auto& counters = s.impl->path_counters[{p.from, p.to}];
    while (!p.queue.empty() && p.queue.front().due_us <= now) {
      Chunk& c = p.queue.front();
      p.dst->Write(c.bytes);
      p.held -= c.bytes.size();
      counters.bytes += c.bytes.size();
      (p.toward_target ? s.target->counters.bytes_to_target
                       : s.target->counters.bytes_from_target) += c.bytes.size();
      p.queue.pop_front();
    }
    if (!p.queue.empty()) {
      std::weak_ptr<Session> weak = s.shared_from_this();
      Pipe* pipe = &p;
      p.timer = loop->After(std::chrono::milliseconds((p.queue.front().due_us - now + 999) / 1000),
                            [this, weak, pipe] {
                              if (auto s = weak.lock()) {
                                Pump(*s, *pipe);
                                UpdateReading(*s, *pipe);
                              }
                            });
    } else if (p.src_closed) {
      p.dst_closing = true;
      if (p.src_aborted) {
        p.dst->Abort();
      } else {
        p.dst->Close();
      }
    }
  }

  void OnClose(Session& s, bool client, const net::CloseInfo& info) {
    (client ? s.client_closed : s.upstream_closed) = true;
    Pipe& from_here = client ? s.up : s.down;
    from_here.src_closed = true;
    from_here.src_aborted =
        info.reason != net::CloseReason::kPeerClosed && info.reason != net::CloseReason::kClosed;
    if (client && !s.connected) {
      Finish(s);  // the dialer gave up before the target was ever reached
      return;
    }
    if (s.client_closed && s.upstream_closed) {
      Finish(s);
      return;
    }
    Pump(s, from_here);
  }

  void Finish(Session& s) {
    if (s.finished) return;
    s.finished = true;
    --s.target->counters.open;
    s.up.timer.Cancel();
    s.down.timer.Cancel();
    for (auto* c : {s.up.src.get(), s.up.dst.get()}) {
      if (c) {
        c->DetachHandlers();
        c->Abort();
      }
    }
    auto self = s.shared_from_this();
    sessions.erase(self);
  }

  // After any change of cuts: reset what is refused, start or resume what is healed.
  void Reevaluate() {
    std::vector<std::shared_ptr<Session>> all(sessions.begin(), sessions.end());
    for (auto& s : all) {
      if (s->finished) continue;
      CutMode mode = CutOf(*s);
      if (mode == CutMode::kRefuse) {
        ++s->target->counters.reset;
        Finish(*s);
      } else if (mode == CutMode::kNone) {
        if (!s->connected) {
          StartConnect(*s);
        } else {
          Pump(*s, s->up);
          if (!s->finished) Pump(*s, s->down);
        }
      }
    }
  }

  void SetCut(const std::string& a, const std::string& b, CutMode mode) {
    regions.insert(a);
    regions.insert(b);
    cuts[{a, b}] = mode;
    cuts[{b, a}] = mode;
  }

  ProxyTarget& FindTarget(const std::string& name) {
    auto it = targets.find(name);
    if (it == targets.end()) {
      throw std::invalid_argument("the fault proxy has no target named \"" + name +
                                  "\"; add it with AddTarget() first");
    }
    return *it->second;
  }
};

FaultProxy::FaultProxy(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->rng.seed(impl_->options.seed);
  std::promise<void> started;
  auto ready = started.get_future();
  Impl* impl = impl_.get();
  impl_->thread = std::thread([impl, &started] {
    {
      net::Loop loop;
      impl->loop = &loop;
      started.set_value();
      loop.Run();
      for (auto& s :
           std::vector<std::shared_ptr<Session>>(impl->sessions.begin(), impl->sessions.end())) {
        impl->Finish(*s);
      }
      for (auto& [name, t] : impl->targets) t->listener.reset();
    }
    impl->loop = nullptr;
  });
  ready.wait();
}

FaultProxy::~FaultProxy() {
  Impl* impl = impl_.get();
  impl->loop->Post([impl] { impl->loop->Stop(); });
  impl->thread.join();
}

uint16_t FaultProxy::AddTarget(const std::string& name, const std::string& target_region,
                               const std::string& target_host, uint16_t target_port,
                               uint16_t listen_port) {
  Impl* impl = impl_.get();
  return impl->Call([=]() -> uint16_t {
    if (impl->targets.count(name)) {
      throw std::invalid_argument("the fault proxy already has a target named \"" + name + "\"");
    }
    auto t = std::make_unique<ProxyTarget>();
    t->name = name;
    t->region = target_region;
    t->host = target_host;
    t->port = target_port;
    ProxyTarget* raw = t.get();
    auto listener = net::Listener::Listen(
        *impl->loop, net::Endpoint::Tcp("127.0.0.1", listen_port),
        [impl, raw](net::ConnectionPtr c) { impl->Accept(raw, std::move(c)); });
    if (!listener.ok()) {
      throw std::runtime_error("fault proxy: cannot listen for target " + name + ": " +
                               listener.message());
    }
    t->listener = std::move(listener).value();
    t->listen_port = t->listener->port();
    impl->regions.insert(target_region);
    uint16_t port = t->listen_port;
    impl->targets[name] = std::move(t);
    return port;
  });
}

void FaultProxy::SetPathFaults(const std::string& from, const std::string& to, Faults faults) {
  Impl* impl = impl_.get();
  impl->Call([=] { impl->path_faults[{from, to}] = faults; });
}

void FaultProxy::SetLatency(const std::string& a, const std::string& b,
                            std::chrono::milliseconds one_way, std::chrono::milliseconds jitter) {
  Impl* impl = impl_.get();
  impl->Call([=] {
    for (const auto& key : {RegionPair{a, b}, RegionPair{b, a}}) {
      auto& f = impl->path_faults[key];
      f.latency = one_way;
      f.jitter = jitter;
    }
  });
}

void FaultProxy::SetLatencyBetweenAll(const std::vector<std::string>& regions,
                                      std::chrono::milliseconds one_way,
                                      std::chrono::milliseconds jitter) {
  for (size_t i = 0; i < regions.size(); ++i) {
    for (size_t j = i + 1; j < regions.size(); ++j)
      SetLatency(regions[i], regions[j], one_way, jitter);
  }
}

void FaultProxy::SetTargetFaults(const std::string& target, std::optional<Faults> faults) {
  Impl* impl = impl_.get();
  impl->Call([=] { impl->FindTarget(target).faults = faults; });
}

void FaultProxy::Cut(const std::string& a, const std::string& b, CutMode mode) {
  Impl* impl = impl_.get();
  impl->Call([=] {
    impl->SetCut(a, b, mode);
    impl->Reevaluate();
  });
}

void FaultProxy::CutTarget(const std::string& target, CutMode mode) {
  Impl* impl = impl_.get();
  impl->Call([=] {
    impl->FindTarget(target).cut = mode;
    impl->Reevaluate();
  });
}

void FaultProxy::CutRegion(const std::string& region, CutMode mode) {
  Impl* impl = impl_.get();
  impl->Call([=] {
    auto known = impl->regions;
    for (const auto& other : known) {
      if (other != region) impl->SetCut(region, other, mode);
    }
    impl->Reevaluate();
  });
}

void FaultProxy::Partition(const std::vector<std::vector<std::string>>& groups, CutMode mode) {
  Impl* impl = impl_.get();
  impl->Call([=] {
    for (size_t i = 0; i < groups.size(); ++i) {
      for (size_t j = i + 1; j < groups.size(); ++j) {
        for (const auto& a : groups[i]) {
          for (const auto& b : groups[j]) impl->SetCut(a, b, mode);
        }
      }
    }
    impl->Reevaluate();
  });
}

void FaultProxy::HealAll() {
  Impl* impl = impl_.get();
  impl->Call([=] {
    impl->cuts.clear();
    for (auto& [name, t] : impl->targets) t->cut = CutMode::kNone;
    impl->Reevaluate();
  });
}

void FaultProxy::ClearFaults() {
  Impl* impl = impl_.get();
  impl->Call([=] {
    impl->path_faults.clear();
    for (auto& [name, t] : impl->targets) t->faults.reset();
  });
}

TargetCounters FaultProxy::Target(const std::string& name) const {
  Impl* impl = impl_.get();
  return impl->Call([=] { return impl->FindTarget(name).counters; });
}

PathCounters FaultProxy::Path(const std::string& from, const std::string& to) const {
  Impl* impl = impl_.get();
  return impl->Call([=] {
    auto it = impl->path_counters.find({from, to});
    return it == impl->path_counters.end() ? PathCounters{} : it->second;
  });
}

std::map<std::string, TargetCounters> FaultProxy::Targets() const {
  Impl* impl = impl_.get();
  return impl->Call([=] {
    std::map<std::string, TargetCounters> out;
    for (auto& [name, t] : impl->targets) out[name] = t->counters;
    return out;
  });
}

std::map<std::string, uint16_t> FaultProxy::ListenPorts() const {
  Impl* impl = impl_.get();
  return impl->Call([=] {
    std::map<std::string, uint16_t> out;
    for (auto& [name, t] : impl->targets) out[name] = t->listen_port;
    return out;
  });
}

}  // namespace meridian::faultproxy
