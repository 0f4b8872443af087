// nkisim-replay <file>: replay a recorded op graph (nki.simulate(kernel, record=...) or
// nkisim::Recorder) on the C++ simulator, without Python, and check the final HBM contents bit
// for bit. Exit status: 0 bit-exact, 1 a mismatch, 2 an unreadable file or a failing instruction.
#include <cstdio>
#include <exception>
#include <string>

#include "nkisim/opgraph.hpp"

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "-h" || std::string(argv[1]) == "--help") {
    std::fprintf(stderr,
                 "usage: nkisim-replay <file>\n"
                 "Replays an op graph recorded with nki.simulate(kernel, record=<file>) and compares\n"
                 "every HBM tensor with its recorded final contents. Exit 0 when bit-exact.\n");
    return argc == 2 ? 0 : 2;
  }
  try {
    const nkisim::ReplayResult r = nkisim::replay(argv[1]);
    std::printf("%s\n", r.summary().c_str());
    return r.bit_exact() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nkisim-replay: %s\n", e.what());
    return 2;
  }
}
