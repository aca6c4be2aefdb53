"""Modelled energy of one NPU inference: compute + data movement per memory level + static power x time.

    E = MACs x e_mac + sum over memories (bytes read + written) x e_byte(memory) + P_static x latency

Energy is *modelled*, never measured: Vela reports MACs, cycles and bytes moved per memory, and these
coefficients turn them into joules. Sources:
- e_mac = 0.23 pJ: an 8-bit multiply (0.2 pJ) plus an 8-bit add (0.03 pJ) at 45 nm, Horowitz, "Computing's
  energy problem", ISSCC 2014, Fig. 1.1.9. Ethos-U is built in newer nodes, so this is an upper bound.
- SRAM 5 pJ/byte: Horowitz 2014 gives 10 pJ (8 KB), 20 pJ (32 KB) and 100 pJ (1 MB) per 64-bit read;
  a system SRAM of a few hundred KB, as Ethos-U55/U65 systems have, interpolates to ~40 pJ per 64 bits.
- DRAM 200 pJ/byte: Horowitz 2014, 1.3-2.6 nJ per 64-bit DRAM access (midpoint 1.6 nJ / 8 bytes).
- Off-chip flash 200 pJ/byte: a 1.8 V octal-SPI NOR flash reading ~400 MB/s at ~40 mA (typical serial
  NOR datasheet figures) costs 1.8 V x 40 mA / 400 MB/s = 0.18 nJ/byte; on-chip flash 20 pJ/byte
  (an order of magnitude below off-chip, no I/O pads).
- P_static: an assumption, not a measurement: 2 mW for a U55-128 subsystem, scaled with the MAC count.
"""

from __future__ import annotations

from dataclasses import dataclass

PJ = 1e-12


@dataclass(frozen=True, slots=True)
class EnergyModel:
    e_mac_pj: float = 0.23
    e_byte_pj: tuple[tuple[str, float], ...] = (("sram", 5.0), ("dram", 200.0), ("off_chip_flash", 200.0),
                                                ("on_chip_flash", 20.0))
    static_mw: float = 2.0

    def energy_mj(self, macs: float, bytes_by_memory: dict[str, float], seconds: float) -> float:
        per_byte = dict(self.e_byte_pj)
        joules = macs * self.e_mac_pj * PJ
        joules += sum(b * per_byte.get(mem, 0.0) * PJ for mem, b in bytes_by_memory.items())
        joules += self.static_mw * 1e-3 * seconds
        return joules * 1e3


def energy_model_for(macs_per_cycle: int) -> EnergyModel:
    """Static power scales with the MAC array (2 mW at 128 MACs/cycle)."""
    return EnergyModel(static_mw=2.0 * macs_per_cycle / 128)
