// Args: the command line of `meridian`, split into the command words, positional arguments and
// flags. Flags are `--name value`, `--name=value`, `-s value` or boolean `--name`; which flags
// take a value is fixed (kValueFlags), so a command word is never mistaken for a flag value.
// Repeated flags keep every value in order (--header, --tag).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::cli {

class Args {
 public:
  // Parses argv[1..]. Errors (a value flag without its value, an unknown short flag) are
  // sentences in error().
  static Args Parse(const std::vector<std::string>& argv);

  const std::vector<std::string>& words() const { return words_; }
  const std::string& error() const { return error_; }

  bool Has(std::string_view flag) const;
  // The last value of a flag, if given.
  std::optional<std::string> Get(std::string_view flag) const;
  std::vector<std::string> GetAll(std::string_view flag) const;
  // Every flag name given (to report unknown ones).
  std::vector<std::string> FlagNames() const;

 private:
  std::vector<std::string> words_;
  std::map<std::string, std::vector<std::string>, std::less<>> flags_;
  std::string error_;
};

// True when `flag` (without dashes) takes a value.
bool FlagTakesValue(std::string_view flag);

}  // namespace meridian::cli
