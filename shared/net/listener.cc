#include "net/listener.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "net/connection_impl.h"

namespace meridian::net {

// ---- Listener ---------------------------------------------------------------------------

struct Listener::Impl : LoopResource {
  Loop* loop = nullptr;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle;
  bool is_tcp = true;
  AcceptHandler on_accept;
  ConnectionOptions options;
  Endpoint bound;
  bool handle_closed = false;
  bool owner_gone = false;

  uv_handle_t* as_handle() { return reinterpret_cast<uv_handle_t*>(&handle); }
  void CloseHandle() {
    if (uv_is_closing(as_handle())) return;
    loop->impl()->resources.erase(this);
    uv_close(as_handle(), [](uv_handle_t* h) {
      auto* self = static_cast<Impl*>(h->data);
      self->handle_closed = true;
      if (self->owner_gone) delete self;
    });
  }
  void CloseForShutdown() override { CloseHandle(); }
  void OnConnection(int status);
};

void Listener::Impl::OnConnection(int status) {
  if (status < 0) return;  // e.g. EMFILE: the next accept may succeed
  ConnectionPtr conn = Connection::Impl::Create(*loop, options, is_tcp);
  Connection::Impl* c = conn->impl();
  if (uv_accept(reinterpret_cast<uv_stream_t*>(&handle), c->stream()) != 0) {
    c->CloseNow(CloseReason::kAborted, "accept failed", false);
    return;
  }
  c->OnOpened();
  if (on_accept) on_accept(std::move(conn));
}

Result<std::unique_ptr<Listener>> Listener::Listen(Loop& loop, const Endpoint& where,
                                                   AcceptHandler on_accept,
                                                   ConnectionOptions options, int backlog) {
  auto* impl = new Impl();
  impl->loop = &loop;
  impl->on_accept = std::move(on_accept);
  impl->options = options;
  impl->is_tcp = !where.is_unix();
  std::unique_ptr<Listener> listener(new Listener(impl));
  uv_loop_t* uvl = &loop.impl()->loop;
  int rc = 0;
  if (impl->is_tcp) {
    uv_tcp_init(uvl, &impl->handle.tcp);
    impl->as_handle()->data = impl;
    loop.impl()->resources.insert(impl);
    sockaddr_storage addr;
    std::memset(&addr, 0, sizeof(addr));
    if (uv_ip4_addr(where.host.c_str(), where.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
        uv_ip6_addr(where.host.c_str(), where.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
      return Status::Error("cannot listen on \"" + where.ToString() +
                           "\": the host must be a numeric IPv4 or IPv6 address (e.g. 0.0.0.0, "
                           "127.0.0.1, ::)");
    }
    rc = uv_tcp_bind(&impl->handle.tcp, reinterpret_cast<sockaddr*>(&addr), 0);
  } else {
    uv_pipe_init(uvl, &impl->handle.pipe, 0);
    impl->as_handle()->data = impl;
    loop.impl()->resources.insert(impl);
    struct stat st;
    if (::stat(where.unix_path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      ::unlink(where.unix_path.c_str());
    }
    rc = uv_pipe_bind(&impl->handle.pipe, where.unix_path.c_str());
  }
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&impl->handle), backlog,
                   [](uv_stream_t* server, int status) {
                     static_cast<Impl*>(server->data)->OnConnection(status);
                   });
  }
  if (rc != 0) {
    std::string fix = rc == UV_EADDRINUSE ? "; stop what uses it or pick another port"
                      : rc == UV_EACCES   ? "; use a port above 1023 or run with the right to bind"
                                          : "";
    return Status::Error("cannot listen on " + where.ToString() + ": " + UvError(rc) + fix);
  }
  impl->bound = where;
  if (impl->is_tcp) {
    sockaddr_storage addr;
    int len = sizeof(addr);
    uv_tcp_getsockname(&impl->handle.tcp, reinterpret_cast<sockaddr*>(&addr), &len);
    impl->bound.port =
        ntohs(addr.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&addr)->sin_port
                                        : reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
  }
  return listener;
}

Listener::~Listener() {
  impl_->owner_gone = true;
  if (impl_->handle_closed) {
    delete impl_;
  } else {
    impl_->CloseHandle();
  }
}

uint16_t Listener::port() const {
  return impl_->bound.port;
}
Endpoint Listener::endpoint() const {
  return impl_->bound;
}

// ---- Connect ----------------------------------------------------------------------------

namespace {

// One connect in progress. Deleted when the result was reported and libuv holds no request.
struct ConnectAttempt : LoopResource {
  Loop* loop = nullptr;
  Endpoint where;
  ConnectOptions options;
  ConnectHandler done;
  ConnectionPtr conn;
  uv_getaddrinfo_t resolve_req;
  uv_connect_t connect_req;
  Timer timeout;
  int outstanding = 0;  // libuv requests whose callbacks have not run
  bool reported = false;

  void Report(Result<ConnectionPtr> result) {
    if (reported) return;
    reported = true;
    loop->impl()->resources.erase(this);
    timeout.Cancel();
    if (!result.ok() && conn) {
      conn->impl()->CloseNow(CloseReason::kAborted, "connect failed", false);
      conn.reset();
    }
    auto cb = std::move(done);
    cb(std::move(result));
    MaybeDelete();
  }
  void MaybeDelete() {
    if (reported && outstanding == 0) delete this;
  }
  void Fail(const std::string& why) {
    Report(Status::Error("cannot connect to " + where.ToString() + ": " + why));
  }
  void CloseForShutdown() override {
    if (outstanding > 0) uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_req));
    Fail("the event loop was shut down");
  }

  void Start() {
    loop->impl()->resources.insert(this);
    timeout = loop->After(options.timeout, [this] {
      Fail("no answer within " + std::to_string(options.timeout.count()) +
           " ms; check that the server runs and the address is reachable");
    });
    if (where.is_unix()) {
      conn = Connection::Impl::Create(*loop, options.connection, false);
      ++outstanding;
      connect_req.data = this;
      uv_pipe_connect(&connect_req, &conn->impl()->handle.pipe, where.unix_path.c_str(),
                      [](uv_connect_t* req, int status) {
                        static_cast<ConnectAttempt*>(req->data)->OnConnected(status);
                      });
      return;
    }
    sockaddr_storage addr;
    std::memset(&addr, 0, sizeof(addr));
    if (uv_ip4_addr(where.host.c_str(), where.port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
        uv_ip6_addr(where.host.c_str(), where.port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
      ConnectTo(reinterpret_cast<sockaddr*>(&addr));
      return;
    }
    addrinfo hints;
    std::memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    resolve_req.data = this;
    ++outstanding;
    int rc = uv_getaddrinfo(
        &loop->impl()->loop, &resolve_req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
          auto* self = static_cast<ConnectAttempt*>(req->data);
          --self->outstanding;
          if (self->reported) {
            uv_freeaddrinfo(res);
            self->MaybeDelete();
            return;
          }
          if (status != 0 || res == nullptr) {
            uv_freeaddrinfo(res);
            self->Fail("the name \"" + self->where.host +
                       "\" does not resolve: " + UvError(status));
            return;
          }
          self->ConnectTo(res->ai_addr);
          uv_freeaddrinfo(res);
        },
        where.host.c_str(), std::to_string(where.port).c_str(), &hints);
    if (rc != 0) {
      --outstanding;
      Fail("the name \"" + where.host + "\" cannot be resolved: " + UvError(rc));
    }
  }

  void ConnectTo(const sockaddr* addr) {
    conn = Connection::Impl::Create(*loop, options.connection, true);
    connect_req.data = this;
    int rc = uv_tcp_connect(&connect_req, &conn->impl()->handle.tcp, addr,
                            [](uv_connect_t* req, int status) {
                              static_cast<ConnectAttempt*>(req->data)->OnConnected(status);
                            });
    if (rc != 0) {
      Fail(UvError(rc));
      return;
    }
    ++outstanding;
  }

  void OnConnected(int status) {
    --outstanding;
    if (reported) {
      MaybeDelete();
      return;
    }
    if (status != 0) {
      std::string fix = status == UV_ECONNREFUSED ? "; is the server running on that port?" : "";
      Fail(UvError(status) + fix);
      return;
    }
    conn->impl()->OnOpened();
    ConnectionPtr c = std::move(conn);
    Report(std::move(c));
  }
};

}  // namespace

void Connect(Loop& loop, const Endpoint& where, ConnectOptions options, ConnectHandler done) {
  auto* attempt = new ConnectAttempt();
  attempt->loop = &loop;
  attempt->where = where;
  attempt->options = options;
  attempt->done = std::move(done);
  attempt->Start();
}

}  // namespace meridian::net
