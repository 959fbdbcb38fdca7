// Small text helpers the tests and the demo share: a whole file as a string, shell quoting.
#pragma once

#include <filesystem>
#include <string>

namespace meridian::harness {

// The file's bytes; empty when it cannot be read.
std::string ReadTextFile(const std::filesystem::path& path);

// `s` as one POSIX shell word: in single quotes, each ' written as '\''.
std::string ShellQuote(const std::string& s);

}  // namespace meridian::harness
