#include "session/upstream_pool.h"

#include <stdexcept>
#include <string>
#include <utility>

namespace meridian::session {

struct UpstreamPool::State {
  net::Loop* loop;
  std::vector<net::Endpoint> servers;
  net::ConnectOptions options;
  std::size_t preferred = 0;
  bool alive = true;
};

namespace {

void TryFrom(std::shared_ptr<UpstreamPool::State> state, std::size_t attempt, std::string failures,
             UpstreamPool::ConnectedHandler done) {
  const std::size_t n = state->servers.size();
  const std::size_t index = (state->preferred + attempt) % n;
  net::Endpoint where = state->servers[index];
  net::Connect(*state->loop, where, state->options,
               [state, attempt, index, failures = std::move(failures), done = std::move(done),
                where](net::Result<net::ConnectionPtr> result) mutable {
                 if (result.ok() || !state->alive) {
                   if (result.ok() && state->alive) state->preferred = index;
                   done(std::move(result), where);
                   return;
                 }
                 if (!failures.empty()) failures += "; ";
                 failures += result.message();
                 if (attempt + 1 >= state->servers.size()) {
                   done(net::Status::Error("no upstream server of this region could be reached (" +
                                           failures +
                                           "): check that they run and that [upstream] servers "
                                           "lists them"),
                        where);
                   return;
                 }
                 TryFrom(std::move(state), attempt + 1, std::move(failures), std::move(done));
               });
}

}  // namespace

UpstreamPool::UpstreamPool(net::Loop& loop, std::vector<net::Endpoint> servers,
                           net::ConnectOptions options)
    : state_(std::make_shared<State>(State{&loop, std::move(servers), options})) {
  if (state_->servers.empty()) {
    throw std::invalid_argument("an upstream pool needs at least one server");
  }
}

UpstreamPool::~UpstreamPool() {
  state_->alive = false;
}

void UpstreamPool::Connect(ConnectedHandler done) {
  TryFrom(state_, 0, {}, std::move(done));
}

const std::vector<net::Endpoint>& UpstreamPool::servers() const {
  return state_->servers;
}

std::size_t UpstreamPool::preferred() const {
  return state_->preferred;
}

void UpstreamPool::ReportFailure(const net::Endpoint& where) {
  if (state_->servers[state_->preferred] == where) {
    state_->preferred = (state_->preferred + 1) % state_->servers.size();
  }
}

}  // namespace meridian::session
