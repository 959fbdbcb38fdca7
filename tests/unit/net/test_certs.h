// Test-only PKI made at run time with OpenSSL: a CA, and certificates it signs. EC P-256 keys,
// so making them is fast even under sanitizers. Nothing here is committed key material.
#pragma once

#include <string>
#include <vector>

namespace meridian::net::testing {

struct TestCert {
  std::string cert_pem;
  std::string key_pem;
};

struct TestPki {
  TestCert ca;
  // Signs a leaf certificate for `common_name` with the given subjectAltName entries
  // ("DNS:localhost", "IP:127.0.0.1").
  TestCert Issue(const std::string& common_name, const std::vector<std::string>& alt_names) const;
  static TestPki Create(const std::string& ca_name = "Meridian Test CA");
};

}  // namespace meridian::net::testing
