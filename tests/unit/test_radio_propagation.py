"""COST-231 Hata against hand-computed values of its published form, and its monotonicity."""

import numpy as np
import pytest

from hermitnet.radio.propagation import (
    MIN_DISTANCE_KM,
    cost231_hata_loss_db,
    thermal_noise_dbm,
)

# Hand computation, f = 2000 MHz, h_b = 30 m, h_m = 1.5 m (COST 231 final report, 4.4.1):
#   log10 f = 3.301030, 33.9 log10 f = 111.904917
#   log10 h_b = 1.477121, 13.82 log10 h_b = 20.413814
#   a(h_m) = (1.1 * 3.301030 - 0.7) * 1.5 - (1.56 * 3.301030 - 0.8)
#          = 2.931133 * 1.5 - 4.349607 = 0.047093
#   L(1 km)  = 46.3 + 111.904917 - 20.413814 - 0.047093 = 137.744010
#   slope    = 44.9 - 6.55 * 1.477121 = 35.224857 dB/decade
#   L(10 km) = 137.744010 + 35.224857 = 172.968867
# Hata (1980) conversions at 2000 MHz:
#   suburban: -2 (log10(2000 / 28))^2 - 5.4 = -2 * 1.853872^2 - 5.4 = -12.273686
#   open:     -4.78 * 3.301030^2 + 18.33 * 3.301030 - 40.94 = -32.518833
KNOWN_VALUES = [
    (1.0, "urban", 137.744010),
    (10.0, "urban", 172.968867),
    (10.0, "metropolitan", 175.968867),
    (10.0, "suburban", 160.695181),
    (10.0, "rural", 140.450034),
]


@pytest.mark.parametrize(("distance_km", "environment", "loss_db"), KNOWN_VALUES)
def test_cost231_hata_matches_hand_computed_values(distance_km, environment, loss_db):
    computed = cost231_hata_loss_db(2000.0, 30.0, 1.5, distance_km, environment)
    assert float(computed) == pytest.approx(loss_db, abs=1e-3)


def test_loss_grows_with_log_distance_at_the_published_slope():
    near, far = cost231_hata_loss_db(1800.0, 50.0, 1.5, np.array([2.0, 20.0]), "urban")
    assert far - near == pytest.approx(44.9 - 6.55 * np.log10(50.0), abs=1e-9)


def test_distance_never_increases_received_power():
    rng = np.random.default_rng(3)
    for _ in range(50):
        freq_mhz = rng.uniform(1500, 2200)
        base_height_m = rng.uniform(10, 200)
        mobile_height_m = rng.uniform(1, 10)
        distance_km = np.sort(rng.uniform(0, 40, 200))
        environment = rng.integers(0, 4)
        loss_db = cost231_hata_loss_db(
            freq_mhz, base_height_m, mobile_height_m, distance_km, environment
        )
        assert np.all(np.diff(loss_db) >= 0)


def test_distance_below_the_clamp_is_finite_and_flat():
    loss_db = cost231_hata_loss_db(2140.0, 30.0, 1.5, np.array([0.0, MIN_DISTANCE_KM / 2]))
    assert np.all(np.isfinite(loss_db))
    assert loss_db[0] == loss_db[1]


def test_clutter_orders_losses_urban_above_suburban_above_rural():
    losses = [
        float(cost231_hata_loss_db(2140.0, 30.0, 1.5, 5.0, env))
        for env in ("metropolitan", "urban", "suburban", "rural")
    ]
    assert losses == sorted(losses, reverse=True)


def test_float32_distances_keep_float32():
    loss_db = cost231_hata_loss_db(2140.0, 30.0, 1.5, np.ones(4, dtype=np.float32), 2)
    assert loss_db.dtype == np.float32


def test_thermal_noise_of_a_wcdma_carrier():
    # -174 dBm/Hz + 10 log10(3.84e6) = -108.157 dBm, plus a 7 dB noise figure
    assert thermal_noise_dbm(7.0) == pytest.approx(-101.157, abs=1e-3)
