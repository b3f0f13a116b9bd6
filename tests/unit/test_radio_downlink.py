"""Downlink SINR with own-cell non-orthogonality, against values computed by hand."""

import numpy as np
import pytest

from hermitnet.radio import parse
from hermitnet.radio.downlink import ReceivedPower, Transmitters, downlink_quality
from hermitnet.radio.examples import minimal_section


def _model():
    """Two national cells on 2140 MHz, a foreign one on 2130, a 15 MHz jammer at 2127.5."""
    section = minimal_section(
        national_cells=[
            {"name": "own", "position_km": [20, 20], "freq_mhz": 2140},
            {"name": "neighbour", "position_km": [25, 20], "freq_mhz": 2140},
        ],
        foreign_cells=[{"name": "far", "position_km": [20, 40], "freq_mhz": 2130}],
        jammers=[
            {"name": "jam", "position_km": [20, 21], "freq_mhz": 2127.5, "bandwidth_mhz": 15}
        ],
    )
    return parse(section, "x", seed=1)


def _power(cell_dbm, jammer_dbm):
    cell_dbm = np.array([cell_dbm], dtype=float)
    cell_mw = 10 ** (cell_dbm / 10)
    return ReceivedPower(cell_dbm, cell_mw, cell_mw / 10, 10 ** (np.array([jammer_dbm]) / 10))


def test_sinr_counts_the_non_orthogonal_share_of_the_own_cell():
    model = _model()
    tx = Transmitters.of(model)
    assert model.link.noise_figure_db == 7.0
    assert list(tx.cell_pilot_db) == [-10.0, -10.0, -10.0]
    # own -60 dBm (1e-6 mW), neighbour -70 dBm (1e-7 mW), foreign cell -80 dBm on 2130 MHz,
    # jammer -70 dBm over 2120-2135 MHz: 1/3 of it in 2130 MHz, none in 2140 MHz.
    power = _power([-60.0, -70.0, -80.0], [-70.0])
    noise_mw = 10 ** ((-174 + 10 * np.log10(3.84e6) + 7) / 10)  # -101.16 dBm
    quality = downlink_quality(model, tx, power, np.array([True]))
    # own cell: eta = 1 - 0.1 - 0.1 = 0.8, alpha = 0.6
    own = 0.8e-6 / (0.4e-6 + 1e-7 + noise_mw)
    assert quality.sinr_ratio[0, 0] == pytest.approx(own, rel=1e-9)
    assert 10 * np.log10(own) == pytest.approx(2.0405, abs=1e-3)
    # Ec/No: pilot 1e-7 over everything on the carrier
    assert quality.ec_no_ratio[0, 0] == pytest.approx(1e-7 / (1.1e-6 + noise_mw), rel=1e-9)
    # neighbour: its own 1e-7 mW is partly non-orthogonal, the own cell fully interference
    neighbour = 0.8e-7 / (0.4e-7 + 1e-6 + noise_mw)
    assert quality.sinr_ratio[0, 1] == pytest.approx(neighbour, rel=1e-9)
    # foreign cell: the jammer's third, no national carrier power
    foreign = 0.8e-8 / (0.4e-8 + 1e-7 / 3 + noise_mw)
    assert quality.sinr_ratio[0, 2] == pytest.approx(foreign, rel=1e-9)
    # perfect orthogonality leaves only the other cells and the noise
    ideal = downlink_quality(model, tx, power, np.array([True]), orthogonality=1.0)
    assert ideal.sinr_ratio[0, 0] == pytest.approx(0.8e-6 / (1e-7 + noise_mw), rel=1e-9)


def test_close_to_a_lone_cell_the_sinr_saturates_at_eta_over_one_minus_alpha():
    model = _model()
    tx = Transmitters.of(model)
    quality = downlink_quality(model, tx, _power([-30.0, -200.0, -200.0], [-200.0]), np.ones(1))
    assert quality.sinr_ratio[0, 0] == pytest.approx(0.8 / 0.4, rel=1e-6)
