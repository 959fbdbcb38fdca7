// trivial_forwarder: the least a separate proxy process can do, for bench.sidecar_vs_direct.
//
//   trivial_forwarder <listen port> <upstream port>
//
// Listens on 127.0.0.1:<listen port>; every accepted connection gets its own connection to
// 127.0.0.1:<upstream port>, and bytes read on one side are written to the other at once
// (uv_try_write in the read callback, the rest with uv_write while that side stops reading).
// One libuv loop, TCP_NODELAY both ways, no parsing, no timers. The bench runs the same
// request/reply through it as through the sidecar: the difference between it and direct is the
// cost of an extra process hop on the machine, whatever the proxy does.
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

struct Pair;

struct Side {
  uv_tcp_t tcp;
  Pair* pair = nullptr;
  Side* other = nullptr;
  bool open = false;
  bool reading = false;
  uv_write_t write_req;
  std::string pending;  // bytes a uv_write owns (write_busy)
  bool write_busy = false;
  char buf[64 * 1024];
};

struct Pair {
  Side client;
  Side upstream;
  uv_connect_t connect_req;
  int open_handles = 0;
  bool closing = false;
};

uv_loop_t* g_loop = nullptr;
sockaddr_in g_upstream{};

void StartReading(Side* s);

void OnClosed(uv_handle_t* h) {
  auto* side = static_cast<Side*>(h->data);
  Pair* p = side->pair;
  if (--p->open_handles == 0) delete p;
}

void ClosePair(Pair* p) {
  if (p->closing) return;
  p->closing = true;
  for (Side* s : {&p->client, &p->upstream}) {
    if (s->open) {
      s->open = false;
      uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), OnClosed);
    }
  }
}

void OnWritten(uv_write_t* req, int status) {
  auto* to = static_cast<Side*>(req->data);
  to->write_busy = false;
  to->pending.clear();
  if (status < 0) {
    ClosePair(to->pair);
    return;
  }
  if (!to->pair->closing) StartReading(to->other);  // the reader was paused for this write
}

void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* from = static_cast<Side*>(stream->data);
  if (nread == 0) return;
  if (nread < 0) {
    ClosePair(from->pair);
    return;
  }
  Side* to = from->other;
  uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(nread));
  int n = to->write_busy ? UV_EAGAIN : uv_try_write(reinterpret_cast<uv_stream_t*>(&to->tcp),
                                                    &out, 1);
  if (n == nread) return;
  if (n < 0 && n != UV_EAGAIN) {
    ClosePair(from->pair);
    return;
  }
  const size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  // Back-pressure: stop reading until the peer took the rest.
  to->pending.append(buf->base + done, static_cast<size_t>(nread) - done);
  uv_read_stop(stream);
  from->reading = false;
  if (!to->write_busy) {
    to->write_busy = true;
    uv_buf_t rest = uv_buf_init(to->pending.data(), static_cast<unsigned>(to->pending.size()));
    to->write_req.data = to;
    if (uv_write(&to->write_req, reinterpret_cast<uv_stream_t*>(&to->tcp), &rest, 1,
                 OnWritten) != 0) {
      ClosePair(from->pair);
    }
  }
}

void StartReading(Side* s) {
  if (s->reading || !s->open) return;
  s->reading = true;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&s->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* b) {
        auto* side = static_cast<Side*>(h->data);
        *b = uv_buf_init(side->buf, sizeof side->buf);
      },
      OnRead);
}

void OnUpstreamConnected(uv_connect_t* req, int status) {
  auto* p = static_cast<Pair*>(req->data);
  if (status < 0 || p->closing) {
    ClosePair(p);
    return;
  }
  uv_tcp_nodelay(&p->upstream.tcp, 1);
  StartReading(&p->client);
  StartReading(&p->upstream);
}

void OnConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* p = new Pair();
  for (Side* s : {&p->client, &p->upstream}) {
    s->pair = p;
    s->other = s == &p->client ? &p->upstream : &p->client;
    uv_tcp_init(g_loop, &s->tcp);
    s->tcp.data = s;
    s->open = true;
    ++p->open_handles;
  }
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&p->client.tcp)) != 0) {
    ClosePair(p);
    return;
  }
  uv_tcp_nodelay(&p->client.tcp, 1);
  p->connect_req.data = p;
  if (uv_tcp_connect(&p->connect_req, &p->upstream.tcp,
                     reinterpret_cast<const sockaddr*>(&g_upstream), OnUpstreamConnected) != 0) {
    ClosePair(p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <listen port> <upstream port>\n", argv[0]);
    return 2;
  }
  g_loop = uv_default_loop();
  sockaddr_in listen_addr{};
  uv_ip4_addr("127.0.0.1", std::atoi(argv[1]), &listen_addr);
  uv_ip4_addr("127.0.0.1", std::atoi(argv[2]), &g_upstream);
  uv_tcp_t server;
  uv_tcp_init(g_loop, &server);
  int rc = uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&listen_addr), 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 128, OnConnection);
  if (rc != 0) {
    std::fprintf(stderr, "trivial_forwarder: listening on port %s failed: %s\n", argv[1],
                 uv_strerror(rc));
    return 1;
  }
  std::fprintf(stderr, "trivial_forwarder: 127.0.0.1:%s -> 127.0.0.1:%s\n", argv[1], argv[2]);
  return uv_run(g_loop, UV_RUN_DEFAULT);
}
