// Sublist match rate (with and without the result cache) and transform/mapping throughput.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "subject/mapping.h"
#include "subject/subject.h"
#include "subject/sublist.h"
#include "subject/transform.h"

namespace {

using namespace meridian::subject;

// 10,000 subscriptions shaped like a server's: mostly literal service/inbox subjects, some
// `*` in the middle, some `>` tails, a few queue groups.
struct Fixture {
  std::vector<std::string> patterns;
  std::vector<std::string> subjects;  // literal subjects to match
};

Fixture MakeFixture(std::size_t distinct_subjects) {
  Fixture f;
  std::mt19937 rng(1);
  const char* regions[] = {"east", "central", "west", "north"};
  for (int i = 0; i < 10000; ++i) {
    std::string region = regions[i % 4];
    std::string svc = "svc" + std::to_string(i % 200);
    switch (i % 10) {
      case 0:
      case 1:
        f.patterns.push_back("orders." + region + ".*." + svc);
        break;
      case 2:
        f.patterns.push_back("events." + region + "." + svc + ".>");
        break;
      default:
        f.patterns.push_back("orders." + region + "." + svc + ".item" + std::to_string(i));
    }
  }
  for (std::size_t i = 0; i < distinct_subjects; ++i) {
    std::string region = regions[rng() % 4];
    std::string svc = "svc" + std::to_string(rng() % 200);
    if (i % 3 == 0) {
      f.subjects.push_back("events." + region + "." + svc + ".created.k" + std::to_string(i));
    } else {
      f.subjects.push_back("orders." + region + ".item" + std::to_string(rng() % 10000) + "." +
                           svc);
    }
  }
  return f;
}

void Fill(Sublist& s, const Fixture& f) {
  for (std::size_t i = 0; i < f.patterns.size(); ++i) {
    auto st = s.Insert(f.patterns[i], i, i % 7 == 0 ? "workers" : "");
    if (!st.ok()) std::abort();
  }
}

void BM_SublistMatchCached(benchmark::State& state) {
  Fixture f = MakeFixture(static_cast<std::size_t>(state.range(0)));
  Sublist s;
  Fill(s, f);
  std::size_t i = 0, matched = 0;
  for (auto _ : state) {
    auto r = s.Match(f.subjects[i]);
    matched += r->size();
    if (++i == f.subjects.size()) i = 0;
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
  state.counters["hit_rate"] =
      static_cast<double>(s.Stats().cache_hits) / static_cast<double>(s.Stats().matches);
}
BENCHMARK(BM_SublistMatchCached)->Arg(500)->Arg(100000);

void BM_SublistMatchNoCache(benchmark::State& state) {
  Fixture f = MakeFixture(static_cast<std::size_t>(state.range(0)));
  Sublist s(0);
  Fill(s, f);
  std::size_t i = 0, matched = 0;
  for (auto _ : state) {
    auto r = s.Match(f.subjects[i]);
    matched += r->size();
    if (++i == f.subjects.size()) i = 0;
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SublistMatchNoCache)->Arg(500);

// Uncached, into a reused result: the allocation-free path for plain subscribers.
void BM_SublistMatchUncachedReused(benchmark::State& state) {
  Fixture f = MakeFixture(500);
  Sublist s(0);
  Fill(s, f);
  MatchResult out;
  std::size_t i = 0, matched = 0;
  for (auto _ : state) {
    s.MatchUncached(f.subjects[i], out);
    matched += out.size();
    if (++i == f.subjects.size()) i = 0;
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SublistMatchUncachedReused);

// Subscribe/unsubscribe churn while matching: cache invalidation cost.
void BM_SublistChurnWithCache(benchmark::State& state) {
  Fixture f = MakeFixture(500);
  Sublist s;
  Fill(s, f);
  std::size_t i = 0, matched = 0;
  for (auto _ : state) {
    const std::string& p = f.patterns[i % f.patterns.size()];
    s.Remove(p, i % f.patterns.size(), (i % f.patterns.size()) % 7 == 0 ? "workers" : "");
    for (int k = 0; k < 10; ++k) matched += s.Match(f.subjects[(i * 10 + k) % 500])->size();
    if (!s.Insert(p, i % f.patterns.size(), (i % f.patterns.size()) % 7 == 0 ? "workers" : "")
             .ok()) {
      std::abort();
    }
    ++i;
  }
  benchmark::DoNotOptimize(matched);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel("items = remove + 10 matches + insert");
}
BENCHMARK(BM_SublistChurnWithCache);

void RunTransform(benchmark::State& state, const char* src, const char* dest, const char* subject) {
  auto t = SubjectTransform::Parse(src, dest);
  if (!t.ok()) {
    state.SkipWithError(t.message().c_str());
    return;
  }
  std::string out;
  out.reserve(128);
  for (auto _ : state) {
    bool ok = t->Apply(subject, out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TransformInsertRegion(benchmark::State& state) {
  RunTransform(state, "foo.>", "foo.west.>", "foo.orders.new.k123");
}
BENCHMARK(BM_TransformInsertRegion);

void BM_TransformStripRegion(benchmark::State& state) {
  RunTransform(state, "foo.*.>", "foo.>", "foo.west.orders.new.k123");
}
BENCHMARK(BM_TransformStripRegion);

void BM_TransformPartition(benchmark::State& state) {
  RunTransform(state, "orders.*.*", "orders.{{partition(16,1,2)}}.$1.$2", "orders.cust42.o7781");
}
BENCHMARK(BM_TransformPartition);

void BM_TransformSplitSlice(benchmark::State& state) {
  RunTransform(state, "ids.*.*", "{{split(1,-)}}.{{sliceFromLeft(2,3)}}",
               "ids.ab-cd-ef.1234567890");
}
BENCHMARK(BM_TransformSplitSlice);

void BM_TransformNoMatch(benchmark::State& state) {
  RunTransform(state, "foo.*.>", "foo.>", "bar.west.orders");
}
BENCHMARK(BM_TransformNoMatch);

void BM_MappingWeightedCluster(benchmark::State& state) {
  std::vector<MappingDestination> d = {{"orders.west.>", 60, "west"},
                                       {"orders.backup.>", 40, "west"},
                                       {"orders.east.>", 100, "east"}};
  auto m = SubjectMapping::Create("orders.>", d);
  if (!m.ok()) {
    state.SkipWithError(m.message().c_str());
    return;
  }
  FastPercentSource r(1);
  std::string out;
  out.reserve(128);
  for (auto _ : state) {
    auto o = m->Map("orders.new.k1", "west", r, out);
    benchmark::DoNotOptimize(o);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MappingWeightedCluster);

void BM_ValidatePublishSubject(benchmark::State& state) {
  std::string s = "$JS.API.CONSUMER.CREATE.orders-read-west.C1.orders.*.new";
  s.back() = 'x';
  for (auto _ : state) benchmark::DoNotOptimize(IsValidPublishSubject(s));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ValidatePublishSubject);

void BM_SubjectsCollide(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(SubjectsCollide("foo.*.orders.>", "foo.west.*.new"));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SubjectsCollide);

}  // namespace
BENCHMARK_MAIN();
