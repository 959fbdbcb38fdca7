#include "subject/sublist.h"

#include <algorithm>
#include <string>

#include "subject/subject.h"

namespace meridian::subject {

struct Sublist::Node {
  struct QueueSubs {
    std::string name;
    std::vector<SubscriberId> members;
  };

  std::unordered_map<std::string, std::unique_ptr<Node>, Hash, Eq> literals;
  std::unique_ptr<Node> single;  // the `*` child
  std::unique_ptr<Node> full;    // the `>` child (only ever holds subscriptions)
  std::vector<SubscriberId> plain;
  std::vector<QueueSubs> queues;

  bool Empty() const {
    return literals.empty() && !single && !full && plain.empty() && queues.empty();
  }
};

namespace {

void AddNodeSubscriptions(const std::vector<SubscriberId>& plain, const auto& queues,
                          MatchResult& out) {
  out.plain.insert(out.plain.end(), plain.begin(), plain.end());
  for (const auto& q : queues) {
    auto it = std::find_if(out.queues.begin(), out.queues.end(),
                           [&](const QueueGroupMatch& m) { return m.name == q.name; });
    if (it == out.queues.end()) {
      out.queues.push_back(QueueGroupMatch{q.name, q.members});
    } else {
      it->members.insert(it->members.end(), q.members.begin(), q.members.end());
    }
  }
}

}  // namespace

std::size_t MatchResult::size() const {
  std::size_t n = plain.size();
  for (const auto& q : queues) n += q.members.size();
  return n;
}

void MatchResult::clear() {
  plain.clear();
  queues.clear();
}

Sublist::Sublist(std::size_t cache_capacity)
    : root_(std::make_unique<Node>()), cache_capacity_(cache_capacity) {}
Sublist::~Sublist() = default;
Sublist::Sublist(Sublist&&) noexcept = default;
Sublist& Sublist::operator=(Sublist&&) noexcept = default;

std::size_t Sublist::CacheCount() const {
  return cache_.size();
}

Status Sublist::Insert(std::string_view pattern, SubscriberId id, std::string_view queue) {
  if (Status s = ValidateSubscribeSubject(pattern); !s.ok()) return s;
  if (!queue.empty()) {
    if (Status s = ValidateQueueGroup(queue); !s.ok()) return s;
  }
  Node* node = root_.get();
  for (std::string_view token : Tokens(pattern)) {
    std::unique_ptr<Node>* slot;
    if (token == kFullWildcard) {
      slot = &node->full;
    } else if (token == kSingleWildcard) {
      slot = &node->single;
    } else {
      auto it = node->literals.find(token);
      if (it == node->literals.end()) {
        it = node->literals.emplace(std::string(token), nullptr).first;
      }
      slot = &it->second;
    }
    if (!*slot) *slot = std::make_unique<Node>();
    node = slot->get();
  }

  std::vector<SubscriberId>* members = &node->plain;
  if (!queue.empty()) {
    auto it = std::find_if(node->queues.begin(), node->queues.end(),
                           [&](const Node::QueueSubs& q) { return q.name == queue; });
    if (it == node->queues.end()) {
      node->queues.push_back(Node::QueueSubs{std::string(queue), {}});
      it = node->queues.end() - 1;
    }
    members = &it->members;
  }
  if (std::find(members->begin(), members->end(), id) != members->end()) {
    return Status::Error("subscriber " + std::to_string(id) + " is already subscribed to \"" +
                         std::string(pattern) + "\"" +
                         (queue.empty() ? "" : " in queue group \"" + std::string(queue) + "\"") +
                         "; remove it first or use a different id");
  }
  members->push_back(id);
  ++count_;
  ++stats_.inserts;
  Invalidate(pattern);
  return Status::Ok();
}

namespace {

// Swap-removes `id`; returns whether it was there.
bool EraseId(std::vector<SubscriberId>& ids, SubscriberId id) {
  auto it = std::find(ids.begin(), ids.end(), id);
  if (it == ids.end()) return false;
  *it = ids.back();
  ids.pop_back();
  return true;
}

}  // namespace

bool Sublist::Remove(std::string_view pattern, SubscriberId id, std::string_view queue) {
  if (!IsValidSubscribeSubject(pattern)) return false;
  // Walk down remembering the path so empty nodes can be pruned bottom-up.
  struct Step {
    Node* parent;
    std::string_view token;
  };
  std::vector<Step> path;
  path.reserve(TokenCount(pattern));
  Node* node = root_.get();
  for (std::string_view token : Tokens(pattern)) {
    Node* next = nullptr;
    if (token == kFullWildcard) {
      next = node->full.get();
    } else if (token == kSingleWildcard) {
      next = node->single.get();
    } else if (auto it = node->literals.find(token); it != node->literals.end()) {
      next = it->second.get();
    }
    if (next == nullptr) return false;
    path.push_back({node, token});
    node = next;
  }

  bool removed = false;
  if (queue.empty()) {
    removed = EraseId(node->plain, id);
  } else {
    auto it = std::find_if(node->queues.begin(), node->queues.end(),
                           [&](const Node::QueueSubs& q) { return q.name == queue; });
    if (it != node->queues.end()) {
      removed = EraseId(it->members, id);
      if (it->members.empty()) node->queues.erase(it);
    }
  }
  if (!removed) return false;

  for (auto step = path.rbegin(); step != path.rend(); ++step) {
    Node* parent = step->parent;
    std::unique_ptr<Node>* slot;
    if (step->token == kFullWildcard) {
      slot = &parent->full;
    } else if (step->token == kSingleWildcard) {
      slot = &parent->single;
    } else {
      slot = &parent->literals.find(step->token)->second;
    }
    if (!(*slot)->Empty()) break;
    if (step->token == kFullWildcard || step->token == kSingleWildcard) {
      slot->reset();
    } else {
      parent->literals.erase(parent->literals.find(step->token));
    }
  }
  --count_;
  ++stats_.removes;
  Invalidate(pattern);
  return true;
}

void Sublist::Invalidate(std::string_view pattern) {
  if (cache_.empty()) return;
  if (!HasWildcard(pattern)) {
    if (auto it = cache_.find(pattern); it != cache_.end()) cache_.erase(it);
    return;
  }
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (SubjectMatches(pattern, it->first)) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

void Sublist::EvictForInsert() {
  if (cache_.size() < cache_capacity_) return;
  // Drop a quarter (at least one) in iteration order, which is effectively arbitrary; this keeps
  // eviction O(1) amortised per miss without tracking recency on the hit path.
  std::size_t target = cache_capacity_ - std::max<std::size_t>(1, cache_capacity_ / 4);
  while (cache_.size() > target) {
    cache_.erase(cache_.begin());
    ++stats_.cache_evictions;
  }
}

namespace {

template <typename NodeT>
void Collect(const NodeT* node, const std::vector<std::string_view>& tokens, std::size_t i,
             MatchResult& out) {
  if (i == tokens.size()) {
    AddNodeSubscriptions(node->plain, node->queues, out);
    return;
  }
  if (node->full) AddNodeSubscriptions(node->full->plain, node->full->queues, out);
  if (node->single) Collect(node->single.get(), tokens, i + 1, out);
  if (auto it = node->literals.find(tokens[i]); it != node->literals.end()) {
    Collect(it->second.get(), tokens, i + 1, out);
  }
}

}  // namespace

void Sublist::MatchUncached(std::string_view subject, MatchResult& out) const {
  out.clear();
  SplitTokens(subject, scratch_tokens_);
  if (scratch_tokens_.empty()) return;
  for (std::string_view t : scratch_tokens_) {
    if (t.empty()) return;
    for (char c : t) {
      if (IsSubjectWhitespace(c)) return;
    }
  }
  Collect(root_.get(), scratch_tokens_, 0, out);
}

std::shared_ptr<const MatchResult> Sublist::Match(std::string_view subject) {
  ++stats_.matches;
  if (cache_capacity_ > 0) {
    if (auto it = cache_.find(subject); it != cache_.end()) {
      ++stats_.cache_hits;
      return it->second;
    }
  }
  auto result = std::make_shared<MatchResult>();
  MatchUncached(subject, *result);
  // Only valid literal subjects are cached, so invalidation by pattern match is exact.
  if (cache_capacity_ > 0 && IsValidPublishSubject(subject)) {
    EvictForInsert();
    cache_.emplace(std::string(subject), result);
  }
  return result;
}

}  // namespace meridian::subject
