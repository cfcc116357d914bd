// Writes the fuzz seed corpus: each sample message (tests/wire/samples.hpp) encoded into a file
// of its own in the directory given as the only argument.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "samples.hpp"

namespace {
bool write(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIRECTORY\n", argv[0]);
    return 64;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  int n = 0;
  for (const auto& m : rsp::wire::samples::all_asap()) {
    if (!write(dir / ("asap-" + std::to_string(n++)), rsp::wire::encode(m))) return 74;
  }
  for (const auto& m : rsp::wire::samples::all_enrp()) {
    if (!write(dir / ("enrp-" + std::to_string(n++)), rsp::wire::encode(m))) return 74;
  }
  std::printf("%d seeds in %s\n", n, dir.c_str());
  return 0;
}
