// NATS nkeys for client authentication, as nats-server: a user is identified by a public
// user nkey ("U" + base32 of prefix, Ed25519 key and CRC-16); the server sends a nonce in
// INFO and the client proves the key by signing it (CONNECT "nkey" and "sig").
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace meridian::server {

// True when `key` is a well-formed public user nkey (prefix U, length, checksum).
bool IsPublicUserNkey(std::string_view key);

// True when `signature` (base64, URL or standard alphabet, padding optional) is the Ed25519
// signature of `nonce` by the key `public_user_nkey`.
bool VerifyNkeySignature(std::string_view public_user_nkey, std::string_view nonce,
                         std::string_view signature);

// A fresh random nonce for INFO (base64url of 11 random bytes, as nats-server).
std::string MakeNonce();

// Encodings, for tests and tools: the user seed ("SU...") and public key ("U...") of a raw
// 32-byte Ed25519 seed and public key.
std::string EncodeUserSeed(std::string_view raw_seed);
std::string EncodePublicUserNkey(std::string_view raw_public_key);

}  // namespace meridian::server
