// nkisim: per-generation facts of the simulated NeuronCore.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nkisim {

enum class Gen : uint8_t { gen2 = 2, gen3 = 3, gen4 = 4 };

struct Target {
  Gen gen;
  std::string_view name;             // "trn1", "trn2", "trn3"
  int partitions;                     // SBUF and PSUM partitions
  int64_t sbuf_bytes_per_partition;   // usable by kernels (nl.tile_size.total_available_sbuf_size)
  int64_t psum_bytes_per_partition;   // 16 KiB
  int64_t psum_bank_bytes;            // 2 KiB per partition per bank
  int psum_banks;                     // 8
  int matmul_max_k;                   // contraction (partition) size, 128
  int matmul_max_stationary_free;     // M, 128
  int matmul_max_moving_free;         // N: 512 on gen2/gen3, 4096 on gen4 (fp32 PSUM)
  int max_lnc;                        // 1 on gen2, 2 on gen3/gen4

  int version() const { return static_cast<int>(gen); }
  bool at_least(Gen g) const { return gen >= g; }

  static const Target& get(Gen g);
  // Accepts trn1/gen2/inf2, trn2/gen3, trn3/gen4. Throws ValidationError otherwise.
  static const Target& from_name(std::string_view name);
  // NEURON_PLATFORM_TARGET_OVERRIDE, or trn3 (gen4) when unset: no device is ever present here.
  static const Target& from_env();
};

}  // namespace nkisim
