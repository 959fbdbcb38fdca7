#include "server/nkey.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <memory>
#include <string>

namespace meridian::server {
namespace {

struct KeyPair {
  std::string seed;  // raw 32 bytes
  std::string pub;   // raw 32 bytes
  EVP_PKEY* pkey = nullptr;
  ~KeyPair() { EVP_PKEY_free(pkey); }
};

std::unique_ptr<KeyPair> NewKey() {
  auto k = std::make_unique<KeyPair>();
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
  EVP_PKEY_keygen_init(ctx);
  EVP_PKEY_keygen(ctx, &k->pkey);
  EVP_PKEY_CTX_free(ctx);
  size_t n = 32;
  k->seed.resize(32);
  k->pub.resize(32);
  EVP_PKEY_get_raw_private_key(k->pkey, reinterpret_cast<unsigned char*>(k->seed.data()), &n);
  n = 32;
  EVP_PKEY_get_raw_public_key(k->pkey, reinterpret_cast<unsigned char*>(k->pub.data()), &n);
  return k;
}

std::string SignBase64Url(EVP_PKEY* pkey, const std::string& data) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey);
  unsigned char sig[64];
  size_t n = sizeof(sig);
  EVP_DigestSign(ctx, sig, &n, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  EVP_MD_CTX_free(ctx);
  static constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < n; ++i) {
    buffer = (buffer << 8) | sig[i];
    bits += 8;
    while (bits >= 6) {
      out += kUrl[(buffer >> (bits - 6)) & 63];
      bits -= 6;
    }
  }
  if (bits > 0) out += kUrl[(buffer << (6 - bits)) & 63];
  return out;
}

TEST(Nkey, DocumentedPublicUserKeyIsWellFormed) {
  // The example user key from the nkeys documentation.
  EXPECT_TRUE(IsPublicUserNkey("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"));
  // One character changed: the checksum no longer matches.
  EXPECT_FALSE(IsPublicUserNkey("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF5"));
  EXPECT_FALSE(IsPublicUserNkey("ADXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4"));
  EXPECT_FALSE(IsPublicUserNkey("UDXU4"));
}

TEST(Nkey, EncodedKeysHaveTheirPrefixes) {
  auto k = NewKey();
  std::string pub = EncodePublicUserNkey(k->pub);
  EXPECT_EQ(pub.size(), 56u);
  EXPECT_EQ(pub[0], 'U');
  EXPECT_TRUE(IsPublicUserNkey(pub));
  std::string seed = EncodeUserSeed(k->seed);
  EXPECT_EQ(seed.size(), 58u);
  EXPECT_EQ(seed.substr(0, 2), "SU");
}

TEST(Nkey, SignatureOfTheNonceVerifiesAndOthersDoNot) {
  auto k = NewKey();
  auto other = NewKey();
  std::string pub = EncodePublicUserNkey(k->pub);
  std::string nonce = MakeNonce();
  EXPECT_EQ(nonce.size(), 15u);
  EXPECT_TRUE(VerifyNkeySignature(pub, nonce, SignBase64Url(k->pkey, nonce)));
  EXPECT_FALSE(VerifyNkeySignature(pub, nonce + "x", SignBase64Url(k->pkey, nonce)));
  EXPECT_FALSE(VerifyNkeySignature(pub, nonce, SignBase64Url(other->pkey, nonce)));
  EXPECT_FALSE(VerifyNkeySignature(pub, nonce, "not base64!"));
}

TEST(Nkey, NoncesDiffer) {
  EXPECT_NE(MakeNonce(), MakeNonce());
}

}  // namespace
}  // namespace meridian::server
