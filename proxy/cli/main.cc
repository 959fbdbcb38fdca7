// The `meridian` command (see proxy/cli/README.md).
#include <iostream>
#include <string>
#include <vector>

#include "cli/cli.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return meridian::cli::RunCli(args, std::cout, std::cerr);
}
