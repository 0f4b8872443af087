#include "nkisim/target.hpp"

#include <cstdlib>

#include "nkisim/errors.hpp"

namespace nkisim {

namespace {
// Usable SBUF bytes per partition are the compiler's total_available_sbuf_size (physical
// 192/224/256 KiB minus what the runtime reserves).
constexpr Target kTargets[] = {
    {Gen::gen2, "trn1", 128, 180224, 16384, 2048, 8, 128, 128, 512, 1},
    {Gen::gen3, "trn2", 128, 212984, 16384, 2048, 8, 128, 128, 512, 2},
    {Gen::gen4, "trn3", 128, 245752, 16384, 2048, 8, 128, 128, 4096, 2},
};
}  // namespace

const Target& Target::get(Gen g) { return kTargets[static_cast<int>(g) - 2]; }

const Target& Target::from_name(std::string_view n) {
  if (n == "trn1" || n == "gen2" || n == "inf2") return get(Gen::gen2);
  if (n == "trn2" || n == "gen3") return get(Gen::gen3);
  if (n == "trn3" || n == "gen4") return get(Gen::gen4);
  throw ValidationError("unknown platform target '" + std::string(n) +
                        "' (NEURON_PLATFORM_TARGET_OVERRIDE): expected one of trn1/gen2/inf2, "
                        "trn2/gen3, trn3/gen4");
}

const Target& Target::from_env() {
  const char* v = std::getenv("NEURON_PLATFORM_TARGET_OVERRIDE");
  if (v == nullptr || *v == '\0') return get(Gen::gen4);
  return from_name(v);
}

}  // namespace nkisim
