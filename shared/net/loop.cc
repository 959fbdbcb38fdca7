#include "net/loop.h"

#include <csignal>
#include <cstring>

#include "net/uv_internal.h"

namespace meridian::net {

namespace {
constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
}  // namespace

std::string UvError(int code) {
  return std::string(uv_strerror(code));
}

std::string SockaddrToString(const struct sockaddr* addr) {
  char host[INET6_ADDRSTRLEN] = {0};
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    uv_ip4_name(in, host, sizeof(host));
    return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    uv_ip6_name(in6, host, sizeof(host));
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return "unknown";
}

// ---- Timer ----------------------------------------------------------------------------

struct Timer::Impl : LoopResource {
  Loop::Impl* loop = nullptr;
  uv_timer_t handle;
  Loop::Callback cb;
  bool repeating = false;
  bool active = true;
  bool handle_closed = false;
  bool owner_gone = false;

  void CloseHandle() {
    active = false;
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&handle))) return;
    loop->resources.erase(this);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle), [](uv_handle_t* h) {
      auto* self = static_cast<Impl*>(h->data);
      self->handle_closed = true;
      if (self->owner_gone) delete self;
    });
  }
  void CloseForShutdown() override { CloseHandle(); }
};

Timer::~Timer() {
  if (!impl_) return;
  impl_->owner_gone = true;
  if (impl_->handle_closed) {
    delete impl_;
  } else {
    impl_->CloseHandle();
  }
  impl_ = nullptr;
}

Timer::Timer(Timer&& other) noexcept : impl_(other.impl_) {
  other.impl_ = nullptr;
}

Timer& Timer::operator=(Timer&& other) noexcept {
  if (this != &other) {
    Timer dying(std::move(*this));
    impl_ = other.impl_;
    other.impl_ = nullptr;
  }
  return *this;
}

void Timer::Cancel() {
  if (impl_ && !impl_->handle_closed) impl_->CloseHandle();
}

bool Timer::active() const {
  return impl_ != nullptr && impl_->active;
}

Timer Loop::After(std::chrono::milliseconds delay, Callback cb) {
  auto* t = new Timer::Impl();
  t->loop = impl_.get();
  t->cb = std::move(cb);
  uv_timer_init(&impl_->loop, &t->handle);
  t->handle.data = t;
  impl_->resources.insert(t);
  uv_timer_start(
      &t->handle,
      [](uv_timer_t* h) {
        auto* self = static_cast<Timer::Impl*>(h->data);
        self->active = false;
        self->cb();
      },
      static_cast<uint64_t>(delay.count()), 0);
  return Timer(t);
}

Timer Loop::Every(std::chrono::milliseconds every, Callback cb) {
  auto* t = new Timer::Impl();
  t->loop = impl_.get();
  t->cb = std::move(cb);
  t->repeating = true;
  uv_timer_init(&impl_->loop, &t->handle);
  t->handle.data = t;
  impl_->resources.insert(t);
  uint64_t ms = every.count() > 0 ? static_cast<uint64_t>(every.count()) : 1;
  uv_timer_start(
      &t->handle, [](uv_timer_t* h) { static_cast<Timer::Impl*>(h->data)->cb(); }, ms, ms);
  return Timer(t);
}

// ---- IterationHook --------------------------------------------------------------------

void IterationHook::Cancel() {
  if (impl_) {
    impl_->cancelled = true;  // the Loop drops it (and its callback) at its next check phase
    impl_.reset();
  }
}

IterationHook Loop::AtIterationEnd(Callback cb) {
  auto hook = std::make_shared<IterationHook::Impl>();
  hook->cb = std::move(cb);
  impl_->hooks.push_back(hook);
  return IterationHook(std::move(hook));
}

void Loop::Impl::RunHooks() {
  std::vector<std::shared_ptr<IterationHook::Impl>> running = hooks;  // a hook may add or
  for (auto& h : running) {                                             // cancel hooks
    if (!h->cancelled) h->cb();
  }
  std::erase_if(hooks, [](const auto& h) { return h->cancelled; });
}

// ---- Loop -----------------------------------------------------------------------------

Loop::Loop() : impl_(std::make_unique<Impl>()) {
  Impl* L = impl_.get();
  L->owner = this;
  uv_loop_init(&L->loop);
  L->loop.data = L;
  uv_async_init(&L->loop, &L->async, [](uv_async_t* a) {
    auto* L = static_cast<Impl*>(a->data);
    {
      std::lock_guard<std::mutex> lock(L->posted_mu);
      L->running.swap(L->posted);
    }
    for (auto& cb : L->running) cb();
    L->running.clear();
  });
  L->async.data = L;
  uv_prepare_init(&L->loop, &L->prepare);
  L->prepare.data = L;
  uv_prepare_start(&L->prepare,
                   [](uv_prepare_t* p) { static_cast<Impl*>(p->data)->ProcessDirty(); });
  uv_check_init(&L->loop, &L->check);
  L->check.data = L;
  uv_check_start(&L->check, [](uv_check_t* c) {
    auto* L = static_cast<Impl*>(c->data);
    L->ProcessDirty();
    if (!L->hooks.empty()) {
      L->RunHooks();
      L->ProcessDirty();  // what the hooks wrote goes out now, not after the next poll
    }
  });
  // The internal handles must not keep Run() from seeing an idle loop in RunOnce; Run() is
  // kept alive by the async handle instead.
  uv_unref(reinterpret_cast<uv_handle_t*>(&L->prepare));
  uv_unref(reinterpret_cast<uv_handle_t*>(&L->check));
}

Loop::~Loop() {
  Impl* L = impl_.get();
  L->shutting_down = true;
  // Closing one resource may close others (a connect attempt and its connection).
  while (!L->resources.empty()) {
    LoopResource* r = *L->resources.begin();
    L->resources.erase(L->resources.begin());
    r->CloseForShutdown();
  }
  StopSignals();
  uv_close(reinterpret_cast<uv_handle_t*>(&L->async), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&L->prepare), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&L->check), nullptr);
  for (int i = 0; i < 100; ++i) {
    uv_run(&L->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&L->loop) == 0) return;
    uv_walk(
        &L->loop,
        [](uv_handle_t* h, void*) {
          if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
  }
}

void Loop::Run() {
  uv_run(&impl_->loop, UV_RUN_DEFAULT);
}

bool Loop::RunFor(std::chrono::milliseconds limit) {
  impl_->timed_out = false;
  Timer guard = After(limit, [this] {
    impl_->timed_out = true;
    Stop();
  });
  uv_run(&impl_->loop, UV_RUN_DEFAULT);
  return !impl_->timed_out;
}

void Loop::RunOnce() {
  uv_run(&impl_->loop, UV_RUN_NOWAIT);
}

void Loop::Stop() {
  uv_stop(&impl_->loop);
}

void Loop::Post(Callback cb) {
  {
    std::lock_guard<std::mutex> lock(impl_->posted_mu);
    impl_->posted.push_back(std::move(cb));
  }
  uv_async_send(&impl_->async);
}

void Loop::QueueWork(Callback work, Callback done) {
  struct Work {
    uv_work_t req;
    Impl* L;
    Callback work, done;
  };
  auto* w = new Work{{}, impl_.get(), std::move(work), std::move(done)};
  w->req.data = w;
  int rc = uv_queue_work(
      &impl_->loop, &w->req, [](uv_work_t* req) { static_cast<Work*>(req->data)->work(); },
      [](uv_work_t* req, int) {
        std::unique_ptr<Work> w(static_cast<Work*>(req->data));
        if (!w->L->shutting_down && w->done) w->done();
      });
  if (rc != 0) {  // only for invalid arguments; run it here rather than lose it
    std::unique_ptr<Work> owned(w);
    owned->work();
    if (owned->done) owned->done();
  }
}

void Loop::HandleSignals(std::function<void(int)> cb) {
  impl_->on_signal = std::move(cb);
  if (impl_->signals_started) return;
  impl_->signals_started = true;
  for (int i = 0; i < 3; ++i) {
    uv_signal_init(&impl_->loop, &impl_->signals[i]);
    impl_->signals[i].data = impl_.get();
    uv_signal_start(
        &impl_->signals[i],
        [](uv_signal_t* s, int signum) {
          auto* L = static_cast<Impl*>(s->data);
          if (L->on_signal) L->on_signal(signum);
        },
        kSignals[i]);
    // Signal watchers alone must not keep Run() going.
    uv_unref(reinterpret_cast<uv_handle_t*>(&impl_->signals[i]));
  }
}

void Loop::StopSignals() {
  if (!impl_->signals_started) return;
  impl_->signals_started = false;
  for (auto& s : impl_->signals) uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
}

uint64_t Loop::NowMs() const {
  return uv_now(&impl_->loop);
}

uv_loop_s* Loop::raw() const {
  return &impl_->loop;
}

}  // namespace meridian::net
