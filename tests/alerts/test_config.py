"""Alert settings and ack deadlines from the operator's environment, through the one
configuration loader (exchange/configfile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.config import ACK_DEADLINES
from exchange.configfile import load, settings
from exchange.errors import InputError


def test_alert_settings_and_deadlines_from_env() -> None:
    env = {
        "EXCHANGE_SMTP_HOST": "relay.example",
        "EXCHANGE_SMTP_PORT": "2525",
        "EXCHANGE_SMTP_PASSWORD": "s3cret",
        "EXCHANGE_SMTP_CA_FILE": "/etc/ca.pem",
        "EXCHANGE_WEBHOOK_ALLOW": "10.0.0.0/8, 192.168.1.0/24",
        "EXCHANGE_ACK_DEADLINES_FLASH": "300",
        "EXCHANGE_ACK_DEADLINES_IMMEDIATE": "1800",
        "EXCHANGE_METRICS_TOKEN": "m3trics",
    }
    loaded = load(env=env)
    cfg = loaded.config
    a = cfg.alerts
    assert (a.smtp_host, a.smtp_port, a.smtp_password) == ("relay.example", 2525, "s3cret")
    assert a.smtp_ca_file == Path("/etc/ca.pem") and a.smtp_starttls
    assert a.allow_networks == ("10.0.0.0/8", "192.168.1.0/24")
    assert cfg.ack_deadlines == {**ACK_DEADLINES, "flash": 300, "immediate": 1800}
    assert "s3cret" not in repr(cfg)  # a config printed or logged shows no secret
    shown = " ".join(value for _, value, _ in settings(loaded))
    assert "s3cret" not in shown and "m3trics" not in shown  # nor does `config show`


@pytest.mark.parametrize(
    ("var", "value", "setting"),
    [
        ("EXCHANGE_ACK_DEADLINES_FLASH", "soon", "ack_deadlines.flash"),
        ("EXCHANGE_ACK_DEADLINES_FLASH", "0", "ack_deadlines.flash"),
        ("EXCHANGE_SMTP_PORT", "smtp", "alerts.smtp_port"),
        ("EXCHANGE_WEBHOOK_ALLOW", "10.0.0.0/33", "alerts.allow_networks"),
    ],
)
def test_bad_values_are_one_line_errors(var: str, value: str, setting: str) -> None:
    with pytest.raises(InputError, match=setting):
        load(env={var: value})
