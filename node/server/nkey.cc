#include "server/nkey.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

namespace meridian::server {
namespace {

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr uint8_t kPrefixSeed = 18 << 3;
constexpr uint8_t kPrefixUser = 20 << 3;

// CRC-16/XMODEM (polynomial 0x1021, initial 0), stored little-endian after the payload.
uint16_t Crc16(const uint8_t* data, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; ++i) {
    crc ^= static_cast<uint16_t>(data[i]) << 8;
    for (int b = 0; b < 8; ++b) {
      crc = (crc & 0x8000) ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                           : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string Base32Encode(const std::vector<uint8_t>& in) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t byte : in) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += kBase32[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += kBase32[(buffer << (5 - bits)) & 31];
  return out;
}

std::optional<std::vector<uint8_t>> Base32Decode(std::string_view in) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= '2' && c <= '7') v = c - '2' + 26;
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

std::string WithChecksum(std::vector<uint8_t> raw) {
  uint16_t crc = Crc16(raw.data(), raw.size());
  raw.push_back(static_cast<uint8_t>(crc & 0xff));
  raw.push_back(static_cast<uint8_t>(crc >> 8));
  return Base32Encode(raw);
}

// The 32-byte key of a public user nkey, checked.
std::optional<std::vector<uint8_t>> DecodeUser(std::string_view key) {
  if (key.size() != 56 || key[0] != 'U') return std::nullopt;
  auto raw = Base32Decode(key);
  if (!raw || raw->size() != 35 || (*raw)[0] != kPrefixUser) return std::nullopt;
  uint16_t want = static_cast<uint16_t>((*raw)[33] | ((*raw)[34] << 8));
  if (Crc16(raw->data(), 33) != want) return std::nullopt;
  return std::vector<uint8_t>(raw->begin() + 1, raw->begin() + 33);
}

std::optional<std::vector<uint8_t>> Base64Decode(std::string_view in) {
  std::vector<uint8_t> out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    if (c >= '0' && c <= '9') v = c - '0' + 52;
    if (c == '+' || c == '-') v = 62;
    if (c == '/' || c == '_') v = 63;
    if (c == '=') break;
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  return out;
}

}  // namespace

bool IsPublicUserNkey(std::string_view key) {
  return DecodeUser(key).has_value();
}

bool VerifyNkeySignature(std::string_view public_user_nkey, std::string_view nonce,
                         std::string_view signature) {
  auto key = DecodeUser(public_user_nkey);
  auto sig = Base64Decode(signature);
  if (!key || !sig || sig->size() != 64) return false;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key->data(), key->size()),
      EVP_PKEY_free);
  if (!pkey) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), sig->data(), sig->size(),
                          reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size()) == 1;
}

std::string MakeNonce() {
  unsigned char raw[11];
  if (RAND_bytes(raw, sizeof(raw)) != 1) {
    throw std::runtime_error("OpenSSL could not make random bytes for an nkey nonce");
  }
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char b : raw) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 6) {
      out += kUrl[(buffer >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kUrl[(buffer << (6 - bits)) & 63];
  return out;
}

std::string EncodeUserSeed(std::string_view raw_seed) {
  // Two prefix bytes: the seed prefix and the key type (user), packed 5 bits at a time.
  std::vector<uint8_t> raw = {static_cast<uint8_t>(kPrefixSeed | (kPrefixUser >> 5)),
                              static_cast<uint8_t>((kPrefixUser & 31) << 3)};
  raw.insert(raw.end(), raw_seed.begin(), raw_seed.end());
  return WithChecksum(std::move(raw));
}

std::string EncodePublicUserNkey(std::string_view raw_public_key) {
  std::vector<uint8_t> raw = {kPrefixUser};
  raw.insert(raw.end(), raw_public_key.begin(), raw_public_key.end());
  return WithChecksum(std::move(raw));
}

}  // namespace meridian::server
