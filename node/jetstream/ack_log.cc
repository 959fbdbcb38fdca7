#include "jetstream/ack_log.h"

#include <cstring>

#include "store/crc32c.h"

namespace meridian::jetstream {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t GetU64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
void PutVar(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

struct Reader {
  const unsigned char* p;
  const unsigned char* end;
  bool ok = true;
  uint64_t Var() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) break;
      const unsigned char b = *p++;
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok = false;
    return 0;
  }
};

bool DecodeBody(std::string_view body, AckLogImage* img) {
  Reader r{reinterpret_cast<const unsigned char*>(body.data()),
           reinterpret_cast<const unsigned char*>(body.data()) + body.size()};
  img->next_sseq = r.Var();
  img->dseq = r.Var();
  img->delivered_sseq = r.Var();
  img->ack_floor_sseq = r.Var();
  img->ack_floor_dseq = r.Var();
  uint64_t n = r.Var();
  if (!r.ok || n > body.size()) return false;  // each entry takes at least 3 bytes
  img->pending.clear();
  img->pending.reserve(n);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < n && r.ok; ++i) {
    AckLogImage::Pending e;
    e.sseq = prev + r.Var();
    e.dseq = r.Var();
    e.count = r.Var();
    if (i > 0 && e.sseq <= prev) return false;
    prev = e.sseq;
    img->pending.push_back(e);
  }
  uint64_t m = r.Var();
  if (!r.ok || m > body.size()) return false;
  img->initial.clear();
  prev = 0;
  for (uint64_t i = 0; i < m && r.ok; ++i) {
    uint64_t s = prev + r.Var();
    if (i > 0 && s <= prev) return false;
    prev = s;
    img->initial.push_back(s);
  }
  return r.ok && r.p == r.end;
}

}  // namespace

void EncodeAckLogRecord(uint64_t gen, const AckLogImage& img, std::string* out) {
  std::string body;
  PutVar(&body, img.next_sseq);
  PutVar(&body, img.dseq);
  PutVar(&body, img.delivered_sseq);
  PutVar(&body, img.ack_floor_sseq);
  PutVar(&body, img.ack_floor_dseq);
  PutVar(&body, img.pending.size());
  uint64_t prev = 0;
  for (const auto& e : img.pending) {
    PutVar(&body, e.sseq - prev);
    PutVar(&body, e.dseq);
    PutVar(&body, e.count);
    prev = e.sseq;
  }
  PutVar(&body, img.initial.size());
  prev = 0;
  for (uint64_t s : img.initial) {
    PutVar(&body, s - prev);
    prev = s;
  }
  const size_t start = out->size();
  out->append(kAckLogMagic, 4);
  PutU32(out, static_cast<uint32_t>(body.size()));
  PutU64(out, gen);
  out->append(body);
  PutU32(out, store::Crc32c(out->data() + start, out->size() - start));
}

AckLogScan ScanAckLog(std::string_view data) {
  AckLogScan scan;
  const auto* base = reinterpret_cast<const unsigned char*>(data.data());
  size_t off = 0;
  AckLogImage img;
  while (data.size() - off >= kAckLogHeader + 4) {
    const unsigned char* p = base + off;
    if (std::memcmp(p, kAckLogMagic, 4) != 0) break;
    const uint32_t len = GetU32(p + 4);
    if (len > kAckLogMaxBody || data.size() - off - kAckLogHeader - 4 < len) break;
    const size_t n = kAckLogHeader + len;
    if (store::Crc32c(p, n) != GetU32(p + n)) break;
    if (!DecodeBody(data.substr(off + kAckLogHeader, len), &img)) break;
    const uint64_t gen = GetU64(p + 8);
    if (!scan.found || gen > scan.gen) {
      scan.found = true;
      scan.gen = gen;
      scan.image = img;
    }
    ++scan.records;
    off += n + 4;
  }
  scan.valid_end = off;
  return scan;
}

}  // namespace meridian::jetstream
